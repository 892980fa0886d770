# Sourced by build.sh and build-nginx.sh: the steps every image built from this machine's
# own binaries shares, from an empty root filesystem to a tagged image.

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

# import_image TARBALL IMAGE [docker import options...]: tags the tarball as IMAGE; the image
# it replaces would otherwise linger untagged, so it goes unless something still uses it.
import_image() {
  local tarball=$1 image=$2 previous_id
  shift 2
  previous_id="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
  docker import "$@" "$tarball" "$image" >/dev/null
  if [[ -n "$previous_id" && "$previous_id" != "$(docker image inspect --format '{{.Id}}' "$image")" ]]; then
    docker image rm "$previous_id" >/dev/null 2>&1 || true
  fi
}
