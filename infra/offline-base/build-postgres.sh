#!/usr/bin/env bash
# Builds a PostgreSQL image from Debian's postgresql package, for machines that cannot pull
# the official one. It takes the official image's settings (POSTGRES_USER, POSTGRES_PASSWORD,
# POSTGRES_DB, their _FILE forms, PGDATA, scripts in /docker-entrypoint-initdb.d), runs as the
# same user (postgres, uid 70 as in postgres:*-alpine) and keeps its data in
# /var/lib/postgresql/data, so docker-compose.yml, the swarm stack and the tests use either
# image alike. infra/dev/bootstrap.sh runs it and records POSTGRES_IMAGE.
# Installs the package with apt-get (as root) when no server binary is there (rootfs.sh).
# Usage: build-postgres.sh [image-tag]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"

busybox=/bin/busybox
postgres_uid=70

work=""
trap '[[ -z "$work" ]] || rm -rf "$work"' EXIT

command -v docker >/dev/null || fail "no docker CLI on PATH"
[[ -x "$busybox" ]] || fail "$busybox is missing; apt-get install busybox-static"

server_dir() { find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort -V | tail -n 1; }

[[ -n "$(server_dir)" ]] || install_package postgresql
server="$(server_dir)"
[[ -x "$server/bin/postgres" ]] || fail "$server/bin/postgres is missing"
version="$("$server/bin/postgres" --version | awk '{ print $3 }')"
major="${version%%.*}"
image="${1:-${OFFLINE_POSTGRES_IMAGE:-microservices-lab/postgres:$major-local}}"
share=/usr/share/postgresql/$major

started=$SECONDS
work="$(mktemp -d)"
rootfs="$work/rootfs"

mkdir -p "$rootfs"/{tmp,usr/local/bin,usr/lib/postgresql,usr/share/postgresql,var/run/postgresql,var/lib/postgresql/data,docker-entrypoint-initdb.d}
chmod 1777 "$rootfs/tmp"
# Writable by anyone, as in the official image: a tmpfs mounted over it (read-only root
# filesystem) takes this mode, not its owner.
chmod 3777 "$rootfs/var/run/postgresql"
cp -R "$server" "$rootfs/usr/lib/postgresql/"
# Without the JIT provider (it links all of LLVM): PostgreSQL then runs with jit off.
rm -rf "$rootfs$server"/lib/llvmjit* "$rootfs$server/lib/bitcode"
cp -R "$share" "$rootfs/usr/share/postgresql/"
# Debian's build reads time zones from the system's tzdata.
cp -R /usr/share/zoneinfo "$rootfs/usr/share/zoneinfo"
add_busybox "$rootfs" "$busybox"
mapfile -t binaries < <(find "$rootfs$server" -type f \( -perm -u+x -o -name '*.so' \))
copy_libs "$rootfs" "$busybox" "${binaries[@]}"
add_name_service "$rootfs"
for tool in postgres initdb pg_ctl pg_isready psql pg_dump; do
  ln -s "../../lib/postgresql/$major/bin/$tool" "$rootfs/usr/local/bin/$tool"
done

cat >"$rootfs/etc/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
postgres:x:$postgres_uid:$postgres_uid:PostgreSQL:/var/lib/postgresql:/bin/sh
EOF
cat >"$rootfs/etc/group" <<EOF
root:x:0:
postgres:x:$postgres_uid:
EOF

# The official image's entrypoint contract, in busybox sh: an empty data directory is
# initialised once (superuser POSTGRES_USER with POSTGRES_PASSWORD, database POSTGRES_DB,
# password logins over TCP, each setting also as VAR_FILE naming a file, for docker secrets),
# then /docker-entrypoint-initdb.d/*.sh and *.sql run against a server on the socket only.
# `docker stop` sends SIGTERM, which PostgreSQL takes as a "smart" shutdown that waits for
# every client to hang up; the official image declares STOPSIGNAL SIGINT (fast shutdown),
# which `docker import` cannot, so the shell passes SIGINT on.
cat >"$rootfs/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
# file_env VAR: VAR, or the content of the file VAR_FILE names; both set is an error.
file_env() {
  eval "file_env_value=\${$1:-} file_env_path=\${$1_FILE:-}"
  if [ -n "$file_env_value" ] && [ -n "$file_env_path" ]; then
    echo "docker-entrypoint: both $1 and $1_FILE are set (but are exclusive)" >&2
    exit 1
  fi
  if [ -n "$file_env_path" ]; then
    file_env_value="$(cat "$file_env_path")" || exit 1
    export "$1=$file_env_value"
  fi
  unset "$1_FILE" file_env_value file_env_path
}
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_USER
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_DB
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "docker-entrypoint: POSTGRES_PASSWORD is not set; the database would have no password" >&2
    exit 1
  fi
  user="${POSTGRES_USER:-postgres}"
  database="${POSTGRES_DB:-$user}"
  # As the official image: the init scripts read these.
  export POSTGRES_USER="$user" POSTGRES_DB="$database"
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C >/dev/null
  rm -f "$pwfile"
  # Every address (the network decides who reaches it); no JIT provider in this image.
  printf "listen_addresses = '*'\njit = off\n" >>"$PGDATA/postgresql.conf"
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  if [ "$database" != postgres ]; then
    echo "CREATE DATABASE \"$database\";" | postgres --single -D "$PGDATA" -j postgres >/dev/null
  fi
  if [ -n "$(ls -A /docker-entrypoint-initdb.d 2>/dev/null)" ]; then
    # Socket only: pg_isready over TCP (the healthchecks) says "not ready" until the scripts are done.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w -s start
    for script in /docker-entrypoint-initdb.d/*; do
      case "$script" in
        *.sh)
          if [ -x "$script" ]; then
            echo "docker-entrypoint: running $script" >&2
            "$script"
          else
            echo "docker-entrypoint: sourcing $script" >&2
            . "$script"
          fi
          ;;
        *.sql)
          echo "docker-entrypoint: running $script" >&2
          psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$user" --dbname "$database" -f "$script"
          ;;
        *) echo "docker-entrypoint: ignoring $script" >&2 ;;
      esac
    done
    pg_ctl -D "$PGDATA" -m fast -w -s stop
  fi
  echo "docker-entrypoint: initialised $PGDATA (user $user, database $database)" >&2
fi
[ "${1:-}" = postgres ] || exec "$@"
"$@" &
server=$!
trap 'kill -INT "$server" 2>/dev/null' TERM INT
status=0
while kill -0 "$server" 2>/dev/null; do
  status=0
  wait "$server" || status=$?
done
exit "$status"
EOF
chmod 755 "$rootfs/usr/local/bin/docker-entrypoint.sh"

# Ownership is set in the tar stream: the server's directories belong to postgres.
owned=(./var/lib/postgresql ./var/run/postgresql)
tar --numeric-owner --owner=0 --group=0 "${owned[@]/#/--exclude=}" -C "$rootfs" -cf "$work/rootfs.tar" .
tar --numeric-owner --owner=$postgres_uid --group=$postgres_uid -C "$rootfs" -rf "$work/rootfs.tar" "${owned[@]}"

import_image "$work/rootfs.tar" "$image" \
  --message "infra/offline-base/build-postgres.sh from Debian's postgresql $version" \
  --change 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV PG_MAJOR=$major" \
  --change "ENV PG_VERSION=$version" \
  --change 'ENV PGDATA=/var/lib/postgresql/data' \
  --change "LABEL org.opencontainers.image.description=\"PostgreSQL $version from Debian, on glibc and busybox, built offline from the host\"" \
  --change 'USER postgres' \
  --change 'VOLUME /var/lib/postgresql/data' \
  --change 'EXPOSE 5432' \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
  --change 'CMD ["postgres"]'

size="$(docker image inspect --format '{{.Size}}' "$image")"
log "built $image (postgresql $version, $((size / 1000000)) MB) in $((SECONDS - started)) s"
