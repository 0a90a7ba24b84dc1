#!/usr/bin/env bash
# Install the dwcp agent on this hypervisor host from a repository checkout (works offline).
#
#   sudo scripts/install.sh --node-id hv-01 [--bootstrap /ip4/10.0.0.11/tcp/7700/p2p/12D3KooW...,...]
#                           [--voters hv-01,hv-02,hv-03] [--psk /path/to/cluster.psk]
#
# What it does (each step is idempotent; running it again upgrades the program files):
#   1. the program: dist/, config/, package.json and the production node_modules in PREFIX (default
#      /opt/dwcp); `npm pack --dry-run` selects the files, and the production packages
#      `npm ls --omit=dev` lists are copied from the checkout's node_modules (nothing is downloaded)
#   2. the system user `dwcp` (useradd --system)
#   3. /etc/dwcp (0750 root:dwcp) and /var/lib/dwcp (0700 dwcp:dwcp)
#   4. the node identity: `dwcp init --data-dir /var/lib/dwcp --node-id ID`
#   5. the cluster key /etc/dwcp/cluster.psk (0600 dwcp): copied from --psk, or a new one (`dwcp keygen`);
#      every agent of a cluster needs the same key, so copy it to the other hosts
#   6. /etc/dwcp/agent.yaml from config/agent.example.yaml with node id, bootstrap and voters filled in,
#      unless it exists: an operator's config is never overwritten
#   7. the wrapper BINDIR/dwcp (default /usr/local/bin/dwcp)
#   8. the systemd unit /etc/systemd/system/dwcp-agent.service, enabled and started
#
# --root DIR installs into DIR as if it were / (a scratch root for tests or image builds): every path
# is prefixed with DIR, no user is created, nothing is chowned, systemd is not touched; what would
# have been done is printed.
#
# Exit codes: 0 installed; 1 a step failed; 2 bad usage.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/opt/dwcp
BINDIR=/usr/local/bin
ROOT=
NODE_ID=
BOOTSTRAP=
VOTERS=
CLUSTER_NAME=
PSK=
NODE_BIN=
START=1
LIBVIRT=0
UNIT_NAME=dwcp-agent.service
WRAPPER_MARK='installed by dwcp scripts/install.sh'

usage() {
  cat <<EOF
usage: scripts/install.sh [options]
  --node-id ID          this host's node id (default: hostname -s); [A-Za-z0-9._-], at most 64
  --bootstrap LIST      comma-separated multiaddrs of running agents, each ending in /p2p/<peer id>
                        (empty for the first host)
  --voters LIST         comma-separated voting node ids; sets cluster.voters and expectedVotes
                        (without it the generated config lets every agent vote: set voters in production)
  --cluster-name NAME   cluster.name in the generated config (default: the example's)
  --psk FILE            copy this cluster pre-shared key (else keep the existing one, or create one)
  --prefix DIR          program files (default /opt/dwcp)
  --bindir DIR          where the dwcp wrapper goes (default /usr/local/bin)
  --root DIR            install into a scratch root DIR (no user, no chown, no systemd)
  --node PATH           the node binary the wrapper runs (default: node on PATH)
  --with-libvirt        add dwcp to the libvirt group (hypervisor.driver: exec runs virsh)
  --no-start            install and enable the unit but do not start it
  -h, --help            this help
EOF
}

SCRIPT_NAME=install.sh
# shellcheck source=scripts/install-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/install-lib.sh"

while [ $# -gt 0 ]; do
  opt=$1
  shift
  case $opt in
    --*=*) set -- "${opt#*=}" "$@"; opt=${opt%%=*} ;;
  esac
  case $opt in
    --node-id | --bootstrap | --voters | --cluster-name | --psk | --prefix | --bindir | --root | --node)
      [ $# -ge 1 ] || usage_error "$opt needs a value"
      val=$1
      shift
      case $opt in
        --node-id) NODE_ID=$val ;;
        --bootstrap) BOOTSTRAP=$val ;;
        --voters) VOTERS=$val ;;
        --cluster-name) CLUSTER_NAME=$val ;;
        --psk) PSK=$val ;;
        --prefix) PREFIX=$val ;;
        --bindir) BINDIR=$val ;;
        --root) ROOT=$val ;;
        --node) NODE_BIN=$val ;;
      esac
      ;;
    --with-libvirt) LIBVIRT=1 ;;
    --no-start) START=0 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option $opt" ;;
  esac
done

# ------------------------------------------------------------------------------------- checks
check_paths create

[ -n "$NODE_ID" ] || NODE_ID=$(hostname -s 2>/dev/null || hostname)
[[ $NODE_ID =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || usage_error "--node-id '$NODE_ID' is not a node id: 1-64 characters of [A-Za-z0-9._-]"
if [ -n "$VOTERS" ]; then
  IFS=, read -r -a voter_list <<<"$VOTERS"
  for v in "${voter_list[@]}"; do
    [[ $v =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || usage_error "--voters: '$v' is not a node id"
  done
fi
if [ -n "$BOOTSTRAP" ]; then
  IFS=, read -r -a bootstrap_list <<<"$BOOTSTRAP"
  for b in "${bootstrap_list[@]}"; do
    [[ $b =~ ^/(ip4|ip6|dns|dns4|dns6)/[^[:space:]]+/p2p/[1-9A-HJ-NP-Za-km-z]{40,60}$ ]] ||
      usage_error "--bootstrap: '$b' is not a multiaddr with a peer id such as /ip4/10.0.0.11/tcp/7700/p2p/12D3KooW... (the agent dials only pinned peers; install.sh prints each host's peer id, so does dwcp init)"
  done
fi
if [ -n "$PSK" ]; then
  [ -r "$PSK" ] || usage_error "--psk $PSK: not a readable file"
  [ "$(head -n 1 "$PSK")" = "/key/swarm/psk/1.0.0/" ] || usage_error "--psk $PSK: not a cluster key (the first line must be /key/swarm/psk/1.0.0/; write one with dwcp keygen)"
fi

# Refuse before changing anything: a node id never changes, and a cluster key is replaced on purpose only.
if [ -f "$R/var/lib/dwcp/node-id" ]; then
  existing=$(tr -d '[:space:]' <"$R/var/lib/dwcp/node-id")
  [ "$existing" = "$NODE_ID" ] || die "/var/lib/dwcp already belongs to node '$existing', not '$NODE_ID': pass --node-id $existing (to start over: scripts/uninstall.sh --purge)"
fi
if [ -n "$PSK" ] && [ -f "$R/etc/dwcp/cluster.psk" ] && ! cmp -s "$PSK" "$R/etc/dwcp/cluster.psk"; then
  die "/etc/dwcp/cluster.psk exists and differs from $PSK: remove it first if you really mean to change this host's cluster key"
fi

[ -n "$NODE_BIN" ] || NODE_BIN=$(command -v node || true)
if [ -z "$NODE_BIN" ] || [ ! -x "$NODE_BIN" ]; then die "node not found: install Node.js >= 20.19 or pass --node PATH"; fi
node_version=$("$NODE_BIN" -p 'process.versions.node')
IFS=. read -r major minor _ <<<"$node_version"
if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
  die "node $node_version at $NODE_BIN is too old: dwcp needs >= 20.19"
fi
command -v npm >/dev/null || die "npm not found (it comes with Node.js)"

systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }
# chown only on the real system, where the user exists.
own() { if [ -z "$ROOT" ]; then chown "$@"; fi; }

# ------------------------------------------------------------------------------------- 1. program
say "installing the program into $R$PREFIX"
if [ ! -f "$SRC/dist/src/cli/main.js" ]; then
  note "no build in $SRC/dist: running npm run build"
  (cd "$SRC" && npm run build --silent) || die "npm run build failed"
fi
[ -d "$SRC/node_modules" ] || die "$SRC/node_modules is missing: run npm ci in the checkout first"
stage=$(mktemp -d "${TMPDIR:-/tmp}/dwcp-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# The package's files as `npm pack` selects them ("files" in package.json), without packing them.
(cd "$SRC" && npm pack --dry-run --json --ignore-scripts 2>/dev/null) |
  "$NODE_BIN" -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => { for (const f of JSON.parse(s)[0].files) console.log(f.path); });' \
  >"$stage/files" || die "npm pack --dry-run failed in $SRC"
grep -qx 'dist/src/cli/main.js' "$stage/files" || die "npm pack would not include dist/src/cli/main.js"
mkdir -p "$(dirname "$R$PREFIX")"
new="$R$PREFIX.new.$$"
rm -rf "$new"
mkdir -p "$new"
tar -C "$SRC" -cf - -T "$stage/files" | tar -C "$new" -xf - --no-same-owner || die "copying the package files failed"
cp "$SRC/package-lock.json" "$new/"
# The production dependency tree, as installed in the checkout: `npm ls --omit=dev` lists it (offline);
# copying each top-level package directory brings its nested node_modules along.
(cd "$SRC" && npm ls --omit=dev --all --parseable 2>/dev/null || true) |
  sed -n "s#^$SRC/##p" | grep -E '^node_modules/(@[^/]+/)?[^/@][^/]*$' | sort -u >"$stage/modules" || true
[ -s "$stage/modules" ] || die "npm ls --omit=dev found no production dependencies in $SRC/node_modules (run npm ci there)"
tar -C "$SRC" -cf - -T "$stage/modules" | tar -C "$new" -xf - --no-same-owner || die "copying the production node_modules failed"
version=$("$NODE_BIN" -p "require('$new/package.json').version")
cat >"$new/INSTALL_INFO" <<EOF
# $WRAPPER_MARK; read by scripts/uninstall.sh
version=$version
prefix=$PREFIX
bindir=$BINDIR
node=$NODE_BIN
unit=/etc/systemd/system/$UNIT_NAME
installed=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
chmod -R u+rwX,go+rX,go-w "$new"
# Swap the directories so a running agent never sees a half-copied tree.
if [ -e "$R$PREFIX" ]; then
  [ -f "$R$PREFIX/INSTALL_INFO" ] || die "$R$PREFIX exists and was not installed by this script: choose another --prefix or remove it"
  rm -rf "$R$PREFIX.old.$$"
  mv "$R$PREFIX" "$R$PREFIX.old.$$"
  mv "$new" "$R$PREFIX"
  rm -rf "$R$PREFIX.old.$$"
  note "replaced the previous installation (now dwcp $version)"
else
  mv "$new" "$R$PREFIX"
fi
note "dwcp $version with its production dependencies ($(wc -l <"$stage/modules") packages)"
DWCP=("$NODE_BIN" "$R$PREFIX/dist/src/cli/main.js")

# ------------------------------------------------------------------------------------- 2. user
say "system user dwcp"
if [ -n "$ROOT" ]; then
  note "skipped under --root; would run: useradd --system --user-group --home-dir /var/lib/dwcp --no-create-home --shell /usr/sbin/nologin dwcp"
  if [ "$LIBVIRT" = 1 ]; then note "skipped under --root; would run: usermod -a -G libvirt dwcp"; fi
elif getent passwd dwcp >/dev/null; then
  note "exists"
else
  useradd --system --user-group --home-dir /var/lib/dwcp --no-create-home --shell /usr/sbin/nologin --comment "dwcp cluster agent" dwcp
  note "created"
fi
if [ -z "$ROOT" ] && [ "$LIBVIRT" = 1 ]; then
  if getent group libvirt >/dev/null; then
    usermod -a -G libvirt dwcp
    note "added to the libvirt group (virsh reaches libvirtd through its socket)"
  else
    echo "install.sh: warning: no libvirt group on this host; is libvirt installed?" >&2
  fi
fi

# ------------------------------------------------------------------------------------- 3. directories
say "directories /etc/dwcp (0750) and /var/lib/dwcp (0700)"
install -d -m 0750 "$R/etc/dwcp"
install -d -m 0700 "$R/var/lib/dwcp"
chmod 0750 "$R/etc/dwcp"
chmod 0700 "$R/var/lib/dwcp"
own root:dwcp "$R/etc/dwcp"

# ------------------------------------------------------------------------------------- 4. identity
say "node identity ($NODE_ID)"
init_out=$("${DWCP[@]}" init --data-dir "$R/var/lib/dwcp" --node-id "$NODE_ID") || die "dwcp init failed"
peer_id=$(sed -n 's/^peer id: //p' <<<"$init_out")
note "$(grep '^identity:' <<<"$init_out" | sed "s#$R/#/#")"
own -R dwcp:dwcp "$R/var/lib/dwcp"

# ------------------------------------------------------------------------------------- 5. cluster key
say "cluster key /etc/dwcp/cluster.psk (0600)"
psk_target="$R/etc/dwcp/cluster.psk"
if [ -n "$PSK" ]; then
  install -m 0600 "$PSK" "$psk_target"
  note "copied from $PSK"
elif [ -f "$psk_target" ]; then
  note "kept the existing key"
else
  "${DWCP[@]}" keygen --out "$psk_target" >/dev/null || die "dwcp keygen failed"
  note "generated a new key: copy it to every other host of the cluster (install.sh --psk FILE there)"
fi
chmod 0600 "$psk_target"
own dwcp:dwcp "$psk_target"

# ------------------------------------------------------------------------------------- 6. config
say "config /etc/dwcp/agent.yaml"
config="$R/etc/dwcp/agent.yaml"
if [ -e "$config" ]; then
  note "kept the existing file (never overwritten); compare with $PREFIX/config/agent.example.yaml"
else
  tmp_config="$R/etc/dwcp/.agent.yaml.new"
  INSTALL_DIR="$R$PREFIX" INSTALL_PREFIX="$PREFIX" INSTALL_NODE_ID="$NODE_ID" INSTALL_BOOTSTRAP="$BOOTSTRAP" \
    INSTALL_VOTERS="$VOTERS" INSTALL_CLUSTER_NAME="$CLUSTER_NAME" INSTALL_OUT="$tmp_config" \
    "$NODE_BIN" --input-type=module - <<'EOF' || die "could not write the config"
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { pathToFileURL } from 'node:url';
// Line edits keep the example's layout and comments; the result is then parsed back and checked.
const env = process.env;
const dir = env.INSTALL_DIR;
const list = (s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : []);
const flow = (items) => `[${items.join(', ')}]`;
const bootstrap = list(env.INSTALL_BOOTSTRAP);
const voters = list(env.INSTALL_VOTERS);
let text = readFileSync(`${dir}/config/agent.example.yaml`, 'utf8');
const edit = (re, replace, what) => {
  if (!re.test(text)) throw new Error(`config/agent.example.yaml has no ${what} line to fill in`);
  text = text.replace(re, replace);
};
edit(/^(node:\n(?:  .*\n)*?  id: )\S+/m, `$1${env.INSTALL_NODE_ID}`, 'node.id');
if (env.INSTALL_CLUSTER_NAME) edit(/^(cluster:\n(?:  .*\n)*?  name: )\S+/m, `$1${env.INSTALL_CLUSTER_NAME}`, 'cluster.name');
edit(/^(  bootstrap: )\[[^\]\n]*\]/m, `$1${flow(bootstrap)}`, 'cluster.bootstrap');
if (voters.length > 0) {
  edit(/^(  voters: )\[[^\]\n]*\]/m, `$1${flow(voters)}`, 'cluster.voters');
  edit(/^(  expectedVotes: )\d+/m, `$1${voters.length}`, 'cluster.expectedVotes');
} else {
  // Without a fixed voter set every agent votes: fine to start, but set voters before production.
  edit(/^  voters: .*$/m, '  # voters: [hv-01, hv-02, hv-03]   # not set by install.sh --voters: every agent votes; fix the set before production', 'cluster.voters');
  edit(/^  expectedVotes: .*$/m, '  # expectedVotes: 3               # the number of voters', 'cluster.expectedVotes');
}
text =
  `# Generated by scripts/install.sh for ${env.INSTALL_NODE_ID} on ${new Date().toISOString().slice(0, 10)} from ${env.INSTALL_PREFIX}/config/agent.example.yaml.\n` +
  '# Edit freely: install.sh never overwrites this file.\n' +
  text;
const YAML = createRequire(`${dir}/package.json`)('yaml');
const doc = YAML.parse(text);
const expect = [
  [doc.node?.id, env.INSTALL_NODE_ID],
  [doc.cluster?.bootstrap, bootstrap],
  [doc.cluster?.voters, voters.length > 0 ? voters : undefined],
  [doc.cluster?.expectedVotes, voters.length > 0 ? voters.length : undefined],
  ...(env.INSTALL_CLUSTER_NAME ? [[doc.cluster?.name, env.INSTALL_CLUSTER_NAME]] : []),
];
for (const [got, want] of expect) {
  if (!isDeepStrictEqual(got, want)) throw new Error(`generated config: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}
const { parseConfig } = await import(pathToFileURL(`${dir}/dist/src/agent/config.js`).href);
parseConfig(text, '/etc/dwcp/agent.yaml'); // throws, naming the key, if the result is not a valid config
writeFileSync(env.INSTALL_OUT, text, { mode: 0o640 });
EOF
  chmod 0640 "$tmp_config"
  mv "$tmp_config" "$config"
  note "generated for $NODE_ID (bootstrap: ${BOOTSTRAP:-none, the first host}; voters: ${VOTERS:-every agent})"
fi
own root:dwcp "$config"

# ------------------------------------------------------------------------------------- 7. wrapper
say "wrapper $BINDIR/dwcp"
wrapper="$R$BINDIR/dwcp"
if [ -e "$wrapper" ] && ! grep -q "$WRAPPER_MARK" "$wrapper" 2>/dev/null; then
  die "$wrapper exists and is not ours: remove it or pass --bindir"
fi
install -d -m 0755 "$R$BINDIR"
cat >"$wrapper.new" <<EOF
#!/bin/sh
# dwcp command line, $WRAPPER_MARK (removed by scripts/uninstall.sh)
exec "$NODE_BIN" "$PREFIX/dist/src/cli/main.js" "\$@"
EOF
chmod 0755 "$wrapper.new"
mv "$wrapper.new" "$wrapper"

# ------------------------------------------------------------------------------------- 8. unit
say "systemd unit /etc/systemd/system/$UNIT_NAME"
install -d -m 0755 "$R/etc/systemd/system"
unit="$R/etc/systemd/system/$UNIT_NAME"
sed -e "s#^ExecStart=/usr/local/bin/dwcp #ExecStart=$BINDIR/dwcp #" \
  -e "s#^Documentation=file:///opt/dwcp/#Documentation=file://$PREFIX/#" \
  "$SRC/config/dwcp-agent.service" >"$unit.new"
if [ "$LIBVIRT" = 1 ]; then sed -i 's/^#SupplementaryGroups=libvirt/SupplementaryGroups=libvirt/' "$unit.new"; fi
chmod 0644 "$unit.new"
mv "$unit.new" "$unit"
if systemd_running; then
  was_active=0
  systemctl is-active --quiet "$UNIT_NAME" && was_active=1
  systemctl daemon-reload
  if [ "$START" = 0 ]; then
    systemctl enable "$UNIT_NAME"
    note "enabled (not started: --no-start)"
  elif [ "$was_active" = 1 ]; then
    systemctl enable "$UNIT_NAME"
    systemctl restart "$UNIT_NAME"
    note "enabled and restarted on the new version"
  else
    systemctl enable --now "$UNIT_NAME"
    note "enabled and started: journalctl -u dwcp-agent -f"
  fi
elif [ -n "$ROOT" ]; then
  note "skipped under --root; would run: systemctl daemon-reload && systemctl enable --now $UNIT_NAME"
else
  note "systemd is not running here; start the agent later with: systemctl daemon-reload && systemctl enable --now $UNIT_NAME"
  note "(or in the foreground: dwcp agent --config /etc/dwcp/agent.yaml)"
fi

say "done: dwcp $version for node $NODE_ID${ROOT:+ (in $ROOT)}"
note "peer id $peer_id; other hosts bootstrap from /ip4/<this host's address>/tcp/7700/p2p/$peer_id"
note "check it with: dwcp status"
