#!/usr/bin/env bash
# Build a minimal Docker image of the dwcp agent from this checkout, without pulling anything: the
# host's node binary and the shared libraries it needs (ldd), the built program (dist/), package.json
# and the production node_modules go into a root file system that `docker import` turns into an image.
#
#   scripts/build-image.sh [IMAGE]          default IMAGE: dwcp-test:latest
#   FORCE=1 scripts/build-image.sh          rebuild even if the image is up to date
#
# Idempotent: the image carries the label dwcp.hash (dist/, config/, package*.json, the node binary and
# this script); when an image of that name has the same hash, nothing is done. The image runs
#   node /app/dist/src/cli/main.js agent --config /etc/dwcp/agent.yaml
# (ENTRYPOINT node main.js, CMD the rest); data in /var/lib/dwcp. After an import the image is
# checked: node starts, and LevelDB's prebuilt binary (classic-level) loads and writes a store.
#
# Needs: a running Docker engine, `npm run build` done, node_modules installed (npm ci).
# Exit codes: 0 image ready; 1 a step failed.
set -euo pipefail

IMAGE=${1:-dwcp-test:latest}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$SRC/scripts/build-image.sh"

die() { echo "build-image: $*" >&2; exit 1; }
say() { echo "build-image: $*"; }

command -v docker >/dev/null || die "docker not found (apt-get install -y docker.io)"
docker info >/dev/null 2>&1 || die "the Docker engine is not reachable (start dockerd; docker info fails)"
[ -f "$SRC/dist/src/cli/main.js" ] || die "no build: run npm run build first ($SRC/dist/src/cli/main.js missing)"
[ -d "$SRC/node_modules" ] || die "$SRC/node_modules is missing: run npm ci first"
NODE_BIN=$(readlink -f "$(command -v node)") || die "node not found"

# ---------------------------------------------------------------------------------- up to date?
hash=$(
  {
    (cd "$SRC" && find dist config -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum)
    sha256sum "$SRC/package-lock.json" "$SRC/package.json" "$SELF"
    echo "$NODE_BIN $("$NODE_BIN" --version) $(stat -c '%s %Y' "$NODE_BIN")"
  } | sha256sum | cut -c1-32
)
if [ "${FORCE:-0}" != 1 ]; then
  have=$(docker image inspect --format '{{ index .Config.Labels "dwcp.hash" }}' "$IMAGE" 2>/dev/null || true)
  if [ "$have" = "$hash" ]; then
    say "$IMAGE is up to date (dwcp.hash=$hash)"
    exit 0
  fi
fi

# ---------------------------------------------------------------------------------- root fs
stage=$(mktemp -d "${TMPDIR:-/tmp}/dwcp-image.XXXXXX")
trap 'rm -rf "$stage"' EXIT
rootfs="$stage/rootfs"
mkdir -p "$rootfs"/{usr/local/bin,app,etc/dwcp,var/lib/dwcp,tmp,dev,proc,sys,root}
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/var/lib/dwcp"
echo 'root:x:0:0:root:/root:/bin/false' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"

cp -l "$NODE_BIN" "$rootfs/usr/local/bin/node" 2>/dev/null || cp "$NODE_BIN" "$rootfs/usr/local/bin/node"

# The program: dist/, package.json, and the production dependency tree as installed in the checkout
# (`npm ls --omit=dev` lists it, offline; each top-level package directory brings its nested ones).
(cd "$SRC" && tar -cf - dist package.json package-lock.json) | tar -C "$rootfs/app" -xf - --no-same-owner
[ -d "$SRC/config" ] && (cd "$SRC" && tar -cf - config) | tar -C "$rootfs/app" -xf - --no-same-owner
(cd "$SRC" && npm ls --omit=dev --all --parseable 2>/dev/null || true) |
  sed -n "s#^$SRC/##p" | grep -E '^node_modules/(@[^/]+/)?[^/@][^/]*$' | sort -u >"$stage/modules" || true
[ -s "$stage/modules" ] || die "npm ls --omit=dev found no production dependencies in $SRC/node_modules (run npm ci)"
grep -qx 'node_modules/classic-level' "$stage/modules" || die "classic-level (LevelDB) is not among the production dependencies npm ls lists"
# Hard links when the stage is on the checkout's file system (nothing is modified in the stage), else copies.
linked=1
while IFS= read -r m; do
  mkdir -p "$(dirname "$rootfs/app/$m")"
  cp -al "$SRC/$m" "$rootfs/app/$m" 2>/dev/null || { linked=0; break; }
done <"$stage/modules"
if [ "$linked" = 0 ]; then
  rm -rf "$rootfs/app/node_modules"
  (cd "$SRC" && tar -cf - -T "$stage/modules") | tar -C "$rootfs/app" -xf - --no-same-owner
fi

# Shared libraries of node and of every native addon shipped in the production tree, at the paths
# ldd prints (the dynamic loader included), symlinks resolved.
{
  ldd "$NODE_BIN"
  find "$rootfs/app/node_modules" -name '*.node' -path '*linux-x64*' ! -name '*musl*' -print0 | xargs -0 -r -n1 ldd 2>/dev/null || true
} | grep -oE '(/[^ ]+\.so[^ ]*)' | sort -u >"$stage/libs"
grep -q 'ld-linux' "$stage/libs" || die "ldd did not show the dynamic loader of $NODE_BIN"
while read -r lib; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done <"$stage/libs"

# ---------------------------------------------------------------------------------- import
old_id=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
size=$(du -sm "$rootfs" | cut -f1)
say "importing $IMAGE (${size} MiB: node $("$NODE_BIN" --version), $(wc -l <"$stage/modules") packages, $(wc -l <"$stage/libs") libraries)"
tar -C "$rootfs" -cf - . | docker import \
  --change 'ENTRYPOINT ["/usr/local/bin/node", "/app/dist/src/cli/main.js"]' \
  --change 'CMD ["agent", "--config", "/etc/dwcp/agent.yaml"]' \
  --change 'WORKDIR /app' \
  --change 'ENV NODE_ENV=production PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'EXPOSE 7700 9090' \
  --change "LABEL dwcp.hash=$hash" \
  - "$IMAGE" >/dev/null || die "docker import failed"

# ---------------------------------------------------------------------------------- check
check='import { Level } from "level";
const db = new Level("/tmp/check-db", { valueEncoding: "json" });
await db.put("k", { ok: true });
const v = await db.get("k");
await db.close();
if (!v || v.ok !== true) { console.error("level read back", v); process.exit(1); }
console.log("ok: node " + process.version + ", level store written and read");'
out=$(docker run --rm --network none --entrypoint /usr/local/bin/node "$IMAGE" --input-type=module -e "$check" 2>&1) ||
  { docker image rm -f "$IMAGE" >/dev/null 2>&1 || true; die "the image does not run the program: $out"; }
out2=$(docker run --rm --network none "$IMAGE" --version 2>&1) ||
  { docker image rm -f "$IMAGE" >/dev/null 2>&1 || true; die "dwcp --version failed in the image: $out2"; }
# The image this one replaces (now untagged) goes, unless a container still uses it.
new_id=$(docker image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then docker image rm "$old_id" >/dev/null 2>&1 || true; fi
say "$IMAGE ready (dwcp.hash=$hash; $out; dwcp $out2)"
