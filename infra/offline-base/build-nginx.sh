#!/usr/bin/env bash
# Builds an nginx image from Debian's nginx package, for machines that cannot pull the
# official one; bench:gateway runs it when it needs nginx and neither is there.
# Installs the package with apt-get (as root) when /usr/sbin/nginx is missing (rootfs.sh).
# Usage: build-nginx.sh [image-tag]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"

image="${1:-${OFFLINE_NGINX_IMAGE:-microservices-lab/nginx:local}}"
nginx_bin=/usr/sbin/nginx
busybox=/bin/busybox
# The official image's user, so a Dockerfile's `USER nginx` works on either.
nginx_uid=101

work=""
trap '[[ -z "$work" ]] || rm -rf "$work"' EXIT

command -v docker >/dev/null || fail "no docker CLI on PATH"
# busybox gives the image a shell, for `docker exec` (the benchmark reads /proc with it).
[[ -x "$busybox" ]] || fail "$busybox is missing; apt-get install busybox-static"

[[ -x "$nginx_bin" ]] || install_package nginx
nginx_version="$("$nginx_bin" -v 2>&1 | sed 's|.*nginx/||')"

started=$SECONDS
work="$(mktemp -d)"
rootfs="$work/rootfs"

mkdir -p "$rootfs"/{etc/nginx,tmp,usr/sbin}
chmod 1777 "$rootfs/tmp"
cp "$nginx_bin" "$rootfs/usr/sbin/nginx"
add_busybox "$rootfs" "$busybox"
copy_libs "$rootfs" "$nginx_bin" "$busybox"
add_name_service "$rootfs"
[[ ! -f /etc/nginx/mime.types ]] || cp /etc/nginx/mime.types "$rootfs/etc/nginx/mime.types"

cat >"$rootfs/etc/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
nginx:x:$nginx_uid:$nginx_uid:nginx:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<EOF
root:x:0:
nginx:x:$nginx_uid:
EOF
# Enough to start as a non-root user in a read-only container: everything written goes
# to /tmp (Debian's build would use /var/lib/nginx and /run). Images built on top replace it.
cat >"$rootfs/etc/nginx/nginx.conf" <<'EOF'
worker_processes auto;
pid /tmp/nginx.pid;
error_log stderr warn;

events {
  worker_connections 1024;
}

http {
  include mime.types;
  default_type application/octet-stream;
  access_log /dev/stdout;
  client_body_temp_path /tmp/client_body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;

  server {
    listen 8080;
    location / {
      return 200 "nginx\n";
    }
  }
}
EOF
[[ -f "$rootfs/etc/nginx/mime.types" ]] || sed -i '/include mime.types;/d' "$rootfs/etc/nginx/nginx.conf"

tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -cf "$work/rootfs.tar" .
import_image "$work/rootfs.tar" "$image" \
  --message "infra/offline-base/build-nginx.sh from Debian's nginx $nginx_version" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NGINX_VERSION=$nginx_version" \
  --change "LABEL org.opencontainers.image.description=\"nginx $nginx_version from Debian, on glibc and busybox, built offline from the host\"" \
  --change 'USER nginx' \
  --change 'EXPOSE 8080' \
  --change 'CMD ["nginx", "-e", "stderr", "-g", "daemon off;"]'

size="$(docker image inspect --format '{{.Size}}' "$image")"
log "built $image (nginx $nginx_version, $((size / 1000000)) MB) in $((SECONDS - started)) s"
