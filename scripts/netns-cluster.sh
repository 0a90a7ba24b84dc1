#!/usr/bin/env bash
# Run N dwcp agents in separate network namespaces joined by veth pairs and a Linux bridge, and cut
# or heal partitions between them with nftables — real hosts, real TCP, on one machine (root only).
#
#   scripts/netns-cluster.sh up N [DATA_DIR]      create namespaces, bridge, configs; start N agents
#   scripts/netns-cluster.sh partition 1,2 3,4,5  nodes in different groups cannot reach each other
#   scripts/netns-cluster.sh heal                 remove every partition rule
#   scripts/netns-cluster.sh api I                print node I's API URL (token in DATA_DIR/api.token)
#   scripts/netns-cluster.sh exec I CMD...        run a command inside node I's namespace
#   scripts/netns-cluster.sh down                 stop agents, delete namespaces and the bridge
#
# Node I is hv-0I at 10.77.0.(10+I) in namespace dwcp-nI; its API listens on that address (port
# 9090, bearer token required) and libp2p on port 7700. State is kept in DATA_DIR (default
# /tmp/dwcp-netns). Where a Docker engine has run, its FORWARD DROP policy (with bridge netfilter on)
# would silently drop traffic across our bridge: an ACCEPT rule for the bridge is inserted on `up`
# and removed on `down`.
set -euo pipefail

BRIDGE=dwcp-br0
SUBNET=10.77.0
STATE_FILE=/tmp/dwcp-netns.state
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLI="$ROOT/dist/src/cli/main.js"

die() { echo "netns-cluster: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (network namespaces, nftables)"; }
addr() { echo "$SUBNET.$((10 + $1))"; }
node_id() { printf 'hv-%02d\n' "$1"; }
state() { [ -f "$STATE_FILE" ] || die "no cluster is up (run: $0 up N)"; . "$STATE_FILE"; }

cmd_up() {
  need_root
  local n=${1:?usage: up N [DATA_DIR]} dir=${2:-/tmp/dwcp-netns}
  [ -f "$CLI" ] || die "build first: npm run build ($CLI missing)"
  command -v nft >/dev/null || die "nft not found (apt-get install -y nftables)"
  [ -f "$STATE_FILE" ] && die "a cluster is already up; run: $0 down"
  mkdir -p "$dir"
  echo "N=$n; DIR=$dir" > "$STATE_FILE"
  ip link add "$BRIDGE" type bridge
  ip addr add "$SUBNET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  if command -v iptables >/dev/null; then iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT; fi
  node "$CLI" keygen --out "$dir/cluster.psk" --force >/dev/null
  head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$dir/api.token"
  chmod 600 "$dir/api.token"
  local i peers=()
  for i in $(seq 1 "$n"); do
    ip netns add "dwcp-n$i"
    ip link add "veth$i" type veth peer name "veth${i}p"
    ip link set "veth${i}p" netns "dwcp-n$i"
    ip link set "veth$i" master "$BRIDGE" up
    ip netns exec "dwcp-n$i" ip addr add "$(addr "$i")/24" dev "veth${i}p"
    ip netns exec "dwcp-n$i" ip link set "veth${i}p" up
    ip netns exec "dwcp-n$i" ip link set lo up
    ip netns exec "dwcp-n$i" nft add table inet dwcp
    ip netns exec "dwcp-n$i" nft add chain inet dwcp input '{ type filter hook input priority 0; policy accept; }'
    mkdir -p "$dir/n$i"
    local peer
    peer=$(node "$CLI" init --data-dir "$dir/n$i" --node-id "$(node_id "$i")" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).peerId))')
    peers[$i]="/ip4/$(addr "$i")/tcp/7700/p2p/$peer"
  done
  local voters
  voters=$(for i in $(seq 1 "$n"); do node_id "$i"; done | paste -sd, -)
  for i in $(seq 1 "$n"); do
    local boot=()
    for j in $(seq 1 "$n"); do [ "$j" = "$i" ] || boot+=("${peers[$j]}"); done
    cat > "$dir/n$i/agent.yaml" <<YAML
node: { id: $(node_id "$i"), dataDir: "$dir/n$i", capacity: { cpu: 64, memory_mb: 262144 }, priority: $((100 - i)) }
cluster:
  name: netns
  voters: [${voters}]
  pskFile: "$dir/cluster.psk"
  listen: [/ip4/$(addr "$i")/tcp/7700]
  bootstrap: [$(IFS=,; echo "${boot[*]}")]
api: { listen: "$(addr "$i"):9090", tokenFile: "$dir/api.token" }
timing: { heartbeat: 500ms, antiEntropyInterval: 2s }
log: { level: info, format: json }
YAML
    ip netns exec "dwcp-n$i" setsid node "$CLI" agent --config "$dir/n$i/agent.yaml" > "$dir/n$i/agent.log" 2>&1 < /dev/null &
    echo $! > "$dir/n$i/agent.pid"
  done
  echo "up: $n agents; APIs: $(for i in $(seq 1 "$n"); do printf 'http://%s:9090 ' "$(addr "$i")"; done); token: $dir/api.token"
}

cmd_partition() {
  need_root; state
  [ $# -ge 2 ] || die "usage: partition GROUP GROUP... (e.g. 1,2 3,4,5)"
  cmd_heal >/dev/null
  local groups=("$@") gi gj a b
  for gi in "${!groups[@]}"; do
    for gj in "${!groups[@]}"; do
      [ "$gi" = "$gj" ] && continue
      for a in ${groups[$gi]//,/ }; do
        for b in ${groups[$gj]//,/ }; do
          ip netns exec "dwcp-n$a" nft add rule inet dwcp input ip saddr "$(addr "$b")" drop
        done
      done
    done
  done
  echo "partitioned: ${groups[*]}"
}

cmd_heal() {
  need_root; state
  local i
  for i in $(seq 1 "$N"); do ip netns exec "dwcp-n$i" nft flush chain inet dwcp input; done
  echo "healed"
}

cmd_api() { state; echo "http://$(addr "${1:?usage: api I}"):9090"; }

cmd_exec() { need_root; state; local i=${1:?usage: exec I CMD...}; shift; ip netns exec "dwcp-n$i" "$@"; }

cmd_down() {
  need_root
  if [ -f "$STATE_FILE" ]; then
    . "$STATE_FILE"
    local i pid
    for i in $(seq 1 "$N"); do
      if [ -f "$DIR/n$i/agent.pid" ]; then
        pid=$(cat "$DIR/n$i/agent.pid")
        kill -TERM "$pid" 2>/dev/null || true
      fi
    done
    for i in $(seq 1 "$N"); do
      pid=$(cat "$DIR/n$i/agent.pid" 2>/dev/null || echo)
      for _ in $(seq 1 50); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
      ip netns del "dwcp-n$i" 2>/dev/null || true
      ip link del "veth$i" 2>/dev/null || true
    done
  fi
  ip link del "$BRIDGE" 2>/dev/null || true
  if command -v iptables >/dev/null; then
    while iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; do :; done
  fi
  rm -f "$STATE_FILE"
  echo "down"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  partition) shift; cmd_partition "$@" ;;
  heal) shift; cmd_heal ;;
  api) shift; cmd_api "$@" ;;
  exec) shift; cmd_exec "$@" ;;
  down) shift; cmd_down ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
