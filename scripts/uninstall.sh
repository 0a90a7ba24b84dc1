#!/usr/bin/env bash
# Remove what scripts/install.sh installed: stop and disable the unit, remove the unit file, the
# wrapper and the program files. The node's data stays unless --purge:
#   /var/lib/dwcp  identity (the node's peer id), LevelDB store, audit log
#   /etc/dwcp      agent.yaml and the cluster key
# --purge also removes those two directories and the dwcp user. Removing an agent's data for good
# does not remove the node from the cluster: take it out of cluster.voters on the other hosts first.
#
# Use the same --prefix / --bindir / --root as at install time (defaults match install.sh).
# Exit codes: 0 removed (or nothing to remove); 1 a step failed; 2 bad usage.
set -euo pipefail

PREFIX=/opt/dwcp
BINDIR=/usr/local/bin
ROOT=
PURGE=0
UNIT_NAME=dwcp-agent.service
WRAPPER_MARK='installed by dwcp scripts/install.sh'

usage() {
  cat <<EOF
usage: scripts/uninstall.sh [--prefix DIR] [--bindir DIR] [--root DIR] [--purge]
  --prefix DIR   program files (default /opt/dwcp)
  --bindir DIR   where the dwcp wrapper is (default /usr/local/bin)
  --root DIR     uninstall from a scratch root DIR (as install.sh --root DIR)
  --purge        also remove /etc/dwcp, /var/lib/dwcp (identity, store, cluster key) and the dwcp user
EOF
}
SCRIPT_NAME=uninstall.sh
# shellcheck source=scripts/install-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/install-lib.sh"

while [ $# -gt 0 ]; do
  opt=$1
  shift
  case $opt in
    --*=*) set -- "${opt#*=}" "$@"; opt=${opt%%=*} ;;
  esac
  case $opt in
    --prefix | --bindir | --root)
      [ $# -ge 1 ] || usage_error "$opt needs a value"
      case $opt in
        --prefix) PREFIX=$1 ;;
        --bindir) BINDIR=$1 ;;
        --root) ROOT=$1 ;;
      esac
      shift
      ;;
    --purge) PURGE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option $opt" ;;
  esac
done

check_paths exist
systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

say "systemd unit $UNIT_NAME"
unit="$R/etc/systemd/system/$UNIT_NAME"
if systemd_running; then
  if systemctl list-unit-files "$UNIT_NAME" >/dev/null 2>&1 && [ -e "$unit" ]; then
    systemctl disable --now "$UNIT_NAME" || die "could not stop $UNIT_NAME"
    note "stopped and disabled"
  fi
elif [ -n "$ROOT" ]; then
  note "skipped under --root; would run: systemctl disable --now $UNIT_NAME"
fi
if [ -e "$unit" ]; then
  rm -f "$unit"
  note "removed /etc/systemd/system/$UNIT_NAME"
else
  note "not installed"
fi
if systemd_running; then systemctl daemon-reload; fi

say "wrapper $BINDIR/dwcp"
wrapper="$R$BINDIR/dwcp"
if [ -e "$wrapper" ]; then
  if grep -q "$WRAPPER_MARK" "$wrapper" 2>/dev/null; then
    rm -f "$wrapper"
    note "removed"
  else
    note "left in place: $wrapper was not installed by install.sh"
  fi
else
  note "not installed"
fi

say "program files $PREFIX"
if [ -e "$R$PREFIX" ]; then
  [ -f "$R$PREFIX/INSTALL_INFO" ] || die "$R$PREFIX has no INSTALL_INFO: not removing a directory install.sh did not create"
  rm -rf "$R$PREFIX"
  note "removed"
else
  note "not installed"
fi

if [ "$PURGE" = 1 ]; then
  say "purging /etc/dwcp and /var/lib/dwcp (identity, store, cluster key)"
  rm -rf "$R/etc/dwcp" "$R/var/lib/dwcp"
  if [ -n "$ROOT" ]; then
    note "skipped under --root; would run: userdel dwcp"
  elif getent passwd dwcp >/dev/null; then
    userdel dwcp || echo "uninstall.sh: warning: userdel dwcp failed" >&2
    note "removed the user dwcp"
  fi
else
  say "kept /etc/dwcp and /var/lib/dwcp (config, cluster key, identity, store): --purge removes them"
fi
say "done"
