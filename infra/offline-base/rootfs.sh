# Sourced by build.sh, build-nginx.sh and build-postgres.sh: the steps every image built from
# this machine's own binaries shares, from an empty root filesystem to a tagged image.

fail() { echo "offline-base: $*" >&2; exit 1; }
log() { echo "offline-base: $*" >&2; }

# install_package PACKAGE: apt-get install of a Debian package (as root) whose scripts would
# start its service on this machine (a root nginx on port 80, a PostgreSQL cluster); a
# policy-rc.d answering 101 tells them not to. One already there is left alone.
install_package() {
  local package=$1 added_policy="" status=0
  [[ $EUID -eq 0 ]] || fail "installing $package needs root: sudo apt-get install $package"
  command -v apt-get >/dev/null || fail "$package is missing and there is no apt-get to install it with"
  log "installing Debian's $package package"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    added_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$added_policy"
    chmod 755 "$added_policy"
  fi
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package"; } >&2 \
    || status=$?
  [[ -z "$added_policy" ]] || rm -f "$added_policy"
  return "$status"
}

# copy_libs ROOTFS BINARY...: the shared libraries the binaries link to, at the exact paths
# they ask for, the loader included; ldd exits non-zero for a static binary, which simply
# adds nothing.
copy_libs() {
  local rootfs=$1 binary
  shift
  for binary in "$@"; do
    { ldd "$binary" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
  done | sort -u | while read -r lib; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
}

# add_busybox ROOTFS BUSYBOX: busybox as /bin/sh and every other applet in /bin.
add_busybox() {
  local rootfs=$1 busybox=$2 applet
  mkdir -p "$rootfs/bin"
  cp "$busybox" "$rootfs/bin/busybox"
  for applet in $("$busybox" --list); do
    [[ -e "$rootfs/bin/$applet" ]] || ln -s busybox "$rootfs/bin/$applet"
  done
}

# add_name_service ROOTFS: glibc resolves names through NSS; without nsswitch.conf it would
# try DNS before /etc/hosts.
add_name_service() {
  local rootfs=$1
  mkdir -p "$rootfs/etc"
  cat >"$rootfs/etc/nsswitch.conf" <<'CONF'
passwd: files
group: files
hosts: files dns
CONF
  cat >"$rootfs/etc/hosts" <<'CONF'
127.0.0.1 localhost
::1 localhost
CONF
}

# recipe_digest SCRIPT: what an image built by SCRIPT was made from (SCRIPT and this file), so
# infra/dev/bootstrap.sh can tell an image built by an older version of the script and rebuild it.
recipe_digest() {
  cat "$1" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16
}

# import_image TARBALL IMAGE [docker import options...]: tags the tarball as IMAGE, labelled with
# its recipe's digest; the image it replaces would otherwise linger untagged, so it goes unless
# something still uses it.
import_image() {
  local tarball=$1 image=$2 previous_id
  shift 2
  previous_id="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
  docker import "$@" --change "LABEL org.microservices-lab.recipe=$(recipe_digest "${BASH_SOURCE[1]}")" \
    "$tarball" "$image" >/dev/null
  if [[ -n "$previous_id" && "$previous_id" != "$(docker image inspect --format '{{.Id}}' "$image")" ]]; then
    docker image rm "$previous_id" >/dev/null 2>&1 || true
  fi
}
