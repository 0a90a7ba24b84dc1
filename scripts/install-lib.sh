# Shared by scripts/install.sh and scripts/uninstall.sh (sourced, not run). Before sourcing, the
# script sets SCRIPT_NAME and defines usage(); afterwards it parses its options into PREFIX, BINDIR
# and ROOT and calls check_paths "<create|exist>".
# shellcheck shell=bash

die() { echo "$SCRIPT_NAME: $*" >&2; exit 1; }
usage_error() { echo "$SCRIPT_NAME: $*" >&2; echo >&2; usage >&2; exit 2; }
say() { echo "==> $*"; }
note() { echo "    $*"; }

# Validate PREFIX/BINDIR, normalise ROOT (a scratch root: "create" makes it, "exist" requires it),
# require root privileges without --root, and set R, the prefix of every target path.
check_paths() {
  case $PREFIX in /?*) ;; *) usage_error "--prefix must be an absolute path other than /, got '$PREFIX'" ;; esac
  case $BINDIR in /?*) ;; *) usage_error "--bindir must be an absolute path, got '$BINDIR'" ;; esac
  PREFIX=${PREFIX%/}
  BINDIR=${BINDIR%/}
  if [ -n "$ROOT" ]; then
    case $ROOT in /*) ;; *) ROOT=$(pwd)/$ROOT ;; esac
    ROOT=${ROOT%/}
    [ -n "$ROOT" ] || usage_error "--root / is the real system: leave --root out"
    if [ "$1" = create ]; then
      mkdir -p "$ROOT"
    else
      [ -d "$ROOT" ] || usage_error "--root $ROOT is not a directory"
    fi
  elif [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo), or use --root DIR for a scratch root"
  fi
  # shellcheck disable=SC2034 # R is read by the sourcing script
  R=$ROOT # every target path is "$R/..."
}
