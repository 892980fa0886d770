#!/usr/bin/env bash
# Builds a Node base image from the host's own node, npm, glibc and busybox, for machines
# that cannot pull from any image registry. Usage: build.sh [image-tag]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"

image="${1:-${OFFLINE_BASE_IMAGE:-microservices-lab/node:24-local}}"
busybox=/bin/busybox


node_bin="$(command -v node)" || fail "no node on PATH; install Node 24 first (infra/dev/bootstrap.sh does)"
node_bin="$(realpath "$node_bin")"
node_version="$("$node_bin" -p 'process.versions.node')"
"$node_bin" -e '
  process.exit(process.versions.node.split(".")[0] === "24" ? 0 : 1);
' || fail "node $node_version at $node_bin is not Node 24; put Node 24 first on PATH (infra/dev/bootstrap.sh does)"

npm_cli="$(command -v npm)" || fail "no npm on PATH"
npm_dir="$(dirname "$(dirname "$(realpath "$npm_cli")")")"
[[ -f "$npm_dir/bin/npm-cli.js" && -f "$npm_dir/bin/npx-cli.js" ]] \
  || fail "cannot find npm's package dir from $npm_cli (looked in $npm_dir)"

[[ -x "$busybox" ]] || fail "$busybox is missing; apt-get install busybox-static"
command -v docker >/dev/null || fail "no docker CLI on PATH"

started=$SECONDS
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

mkdir -p "$rootfs"/{bin,sbin,etc/ssl/certs,home/node,root,tmp,usr/bin,usr/sbin,usr/local/sbin,usr/local/bin,usr/local/lib/node_modules}
chmod 1777 "$rootfs/tmp"
chmod 700 "$rootfs/root"

cp "$node_bin" "$rootfs/usr/local/bin/node"
cp -R "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

add_busybox "$rootfs" "$busybox"
# npm-cli.js starts with "#!/usr/bin/env node".
ln -s /bin/busybox "$rootfs/usr/bin/env"
copy_libs "$rootfs" "$node_bin" "$busybox"

cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000::/home/node:/bin/sh
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
node:x:1000:
EOF
add_name_service "$rootfs"
cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"

# Ownership is set in the tar stream, so the script needs no root to produce root-owned files.
tar --numeric-owner --owner=0 --group=0 --exclude=./home/node -C "$rootfs" -cf "$work/rootfs.tar" .
tar --numeric-owner --owner=1000 --group=1000 -C "$rootfs" -rf "$work/rootfs.tar" ./home/node

import_image "$work/rootfs.tar" "$image" \
  --message "infra/offline-base/build.sh from node $node_version" \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change "ENV NODE_VERSION=$node_version" \
  --change "LABEL org.opencontainers.image.description=\"Node $node_version on glibc and busybox, built offline from the host\"" \
  --change 'CMD ["node"]'

size="$(docker image inspect --format '{{.Size}}' "$image")"
log "built $image (node $node_version, $((size / 1000000)) MB) in $((SECONDS - started)) s"
