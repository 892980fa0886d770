#!/usr/bin/env bash
# Prepares a machine to build, run and test the project: Node 24, a Docker engine with
# compose, and a Node base image. Every step is skipped when already satisfied.
#
# Usage: exports="$(bash infra/dev/bootstrap.sh)" && eval "$exports"
# stdout carries only `export ...` lines for the calling shell; everything else goes to stderr.
set -euo pipefail

LOCAL_NODE_IMAGE=microservices-lab/node:24-local
# build-postgres.sh tags its image with the major version of Debian's postgresql package.
LOCAL_POSTGRES_PREFIX=microservices-lab/postgres:
RYUK_IMAGE=testcontainers/ryuk

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
env_file="$repo_root/.env"

log() { echo "bootstrap: $*" >&2; }
fail() { echo "bootstrap: $*" >&2; exit 1; }
emit() { printf '%s\n' "$*"; }

# One Node major everywhere (package.json engines, .nvmrc, the README): 24.
node_is_24() {
  "$1" -e 'process.exit(process.versions.node.split(".")[0] === "24" ? 0 : 1)' >/dev/null 2>&1
}

tools_dir() {
  if [[ -n "${LAB_TOOLS_DIR:-}" ]]; then
    echo "$LAB_TOOLS_DIR"
  elif mkdir -p /opt/microservices-lab 2>/dev/null && [[ -w /opt/microservices-lab ]]; then
    echo /opt/microservices-lab
  else
    echo "$HOME/.cache/microservices-lab"
  fi
}

ensure_node() {
  if command -v node >/dev/null && node_is_24 node; then
    log "node $(node --version) on PATH is Node 24"
    return
  fi

  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) fail "no node-linux-* package for $(uname -m); install Node 24 by hand" ;;
  esac
  local prefix node_home bin_dir host_npmrc=""
  prefix="$(tools_dir)/node-24"
  node_home="$prefix/node_modules/node-linux-$arch"
  bin_dir="$node_home/bin"
  if command -v node >/dev/null; then
    host_npmrc="$(dirname "$(dirname "$(realpath "$(command -v node)")")")/etc/npmrc"
  fi

  if [[ -x "$bin_dir/node" ]] && node_is_24 "$bin_dir/node"; then
    log "using node $("$bin_dir/node" --version) from $bin_dir"
  else
    command -v npm >/dev/null || fail "npm is missing; install npm (or Node 24) first"
    log "installing node-linux-$arch@24 into $prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "node-linux-$arch@24" >&2
    node_is_24 "$bin_dir/node" || fail "node-linux-$arch@24 did not install a working node in $bin_dir"
  fi
  # npm reads its global npmrc (cafile, proxy) from beside the node running it; keep the host's.
  if [[ -f "$host_npmrc" && ! -e "$node_home/etc/npmrc" ]]; then
    mkdir -p "$node_home/etc"
    ln -s "$host_npmrc" "$node_home/etc/npmrc"
  fi
  # Later steps (the offline base image build) need this node too.
  export PATH="$bin_dir:$PATH"
  emit "export PATH=$(printf '%q' "$bin_dir"):\"\$PATH\""
}

# dockerd lives in /usr/sbin, which a non-root PATH often lacks.
find_dockerd() {
  PATH="$PATH:/usr/sbin:/sbin" command -v dockerd
}

compose_available() {
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1
}

ensure_docker() {
  local engine_up=false packages=()
  docker info >/dev/null 2>&1 && engine_up=true

  if ! command -v docker >/dev/null || { ! $engine_up && ! find_dockerd >/dev/null; }; then
    packages+=(docker.io)
  fi
  compose_available || packages+=(docker-compose)
  [[ -x /bin/busybox ]] || packages+=(busybox-static)
  # The workshop's registry chapter (08) serves localhost:5000 with Debian's
  # docker-registry where the registry:2 image cannot be pulled.
  command -v docker-registry >/dev/null || packages+=(docker-registry)
  # The workshop's chapters call the services with curl, as a learner does.
  command -v curl >/dev/null || packages+=(curl)
  # The lab console's browser test drives Debian's Chromium with playwright-core
  # (a browser download is not possible everywhere; this one comes with its fonts).
  [[ -x /usr/bin/chromium ]] || packages+=(chromium)

  if ((${#packages[@]})); then
    [[ $EUID -eq 0 ]] || fail "missing ${packages[*]}; run as root or: sudo apt-get install -y ${packages[*]}"
    log "installing ${packages[*]} with apt"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}" >&2
    # Where an init system started the package's own registry (its config wants
    # htpasswd logins), stop it: the workshop starts one with infra/workshop/registry.yml.
    if [[ " ${packages[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null; then
      systemctl disable --now docker-registry >&2 2>/dev/null || true
    fi
    # The package's own service start works on machines with an init system.
    docker info >/dev/null 2>&1 && engine_up=true
  fi

  if $engine_up; then
    log "docker engine $(docker version --format '{{.Server.Version}}' 2>/dev/null) is running"
    return
  fi
  [[ $EUID -eq 0 ]] || fail "docker info fails (engine down, or no access to its socket); start dockerd or join the docker group"

  log "starting dockerd (log: /var/log/dockerd.log)"
  # Detached from this script's stdout: `eval "$(bootstrap.sh)"` waits for every writer to close it.
  setsid nohup "$(find_dockerd)" </dev/null >/var/log/dockerd.log 2>&1 &
  local waited
  for ((waited = 0; waited < 60; waited++)); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  fail "dockerd did not answer within 60 s; see /var/log/dockerd.log"
}

# The image a variable names: the shell's value, else the repo's .env default that compose
# and the tests read too.
configured_image() {
  local key=$1
  if [[ -n "${!key:-}" ]]; then
    echo "${!key}"
  elif [[ -f "$env_file" ]] && grep -q "^$key=" "$env_file"; then
    grep "^$key=" "$env_file" | tail -n 1 | cut -d= -f2- | tr -d "\"'"
  else
    fail "$key is set neither in the environment nor in $env_file"
  fi
}

# Replaces KEY's line in place, or appends it, keeping every other line as it was.
set_env_line() {
  local key=$1 value=$2 updated
  touch "$env_file"
  updated="$(awk -v key="$key" -v line="$key=$value" '
    index($0, key "=") == 1 { if (!done) print line; done = 1; next }
    { print }
    END { if (!done) print line }
  ' "$env_file")"
  printf '%s\n' "$updated" >"$env_file"
}

# ensure_image KEY LOCAL_PREFIX BUILD_SCRIPT WHAT: the configured image if present or
# pullable; else the one BUILD_SCRIPT makes from this machine's own software, which then
# becomes KEY's line in .env (git shows .env as changed: this machine's setting, not one
# to commit).
# The digest infra/offline-base/rootfs.sh labels a local build with: its script and rootfs.sh.
recipe_digest() {
  cat "$repo_root/infra/offline-base/$1" "$repo_root/infra/offline-base/rootfs.sh" | sha256sum | cut -c1-16
}

recipe_of_image() {
  docker image inspect --format '{{index .Config.Labels "org.microservices-lab.recipe"}}' "$1" 2>/dev/null
}

# current_local_build LOCAL_PREFIX BUILD_SCRIPT: a local image built by today's BUILD_SCRIPT,
# if this machine has one (a fresh clone's .env names the official image, not it).
current_local_build() {
  local local_prefix=$1 digest candidate
  digest="$(recipe_digest "$2")"
  while read -r candidate; do
    if [[ "$candidate" == "$local_prefix"* && "$(recipe_of_image "$candidate")" == "$digest" ]]; then
      echo "$candidate"
      return
    fi
  done < <(docker image ls --format '{{.Repository}}:{{.Tag}}')
}

ensure_image() {
  local key=$1 local_prefix=$2 build_script=$3 what=$4 image reuse
  image="$(configured_image "$key")"

  if [[ "$image" == "$local_prefix"* ]] && docker image inspect "$image" >/dev/null 2>&1 \
    && [[ "$(recipe_of_image "$image")" != "$(recipe_digest "$build_script")" ]]; then
    # Built by an older version of its script (an entrypoint that changed since): build it again.
    log "$image was built by an older infra/offline-base/$build_script"
    image=""
  fi

  if [[ -n "$image" ]] && docker image inspect "$image" >/dev/null 2>&1; then
    log "$what image $image is present"
  elif [[ -n "$image" && "$image" != "$local_prefix"* ]] && timeout 60 docker pull "$image" >&2; then
    log "pulled $what image $image"
  elif reuse="$(current_local_build "$local_prefix" "$build_script")" && [[ -n "$reuse" ]]; then
    # Built here before from the same script: rebuilding would only give it a new id, and every
    # image built on it would then miss the build cache.
    log "${image:-the configured $what image} cannot be had; using $reuse, built from today's infra/offline-base/$build_script"
    image="$reuse"
    set_env_line "$key" "$image"
  else
    log "${image:-the local $what image} is neither present nor pullable (or current); building one from this machine's $what"
    local build_log
    build_log="$(mktemp)"
    bash "$repo_root/infra/offline-base/$build_script" >/dev/null 2>"$build_log" \
      || { cat "$build_log" >&2; fail "infra/offline-base/$build_script failed"; }
    cat "$build_log" >&2
    image="$(sed -n 's/^offline-base: built \([^ ]*\) .*/\1/p' "$build_log")"
    rm -f "$build_log"
    [[ -n "$image" ]] || fail "infra/offline-base/$build_script built no image"
    set_env_line "$key" "$image"
  fi
  emit "export $key=$(printf '%q' "$image")"
}

ensure_ryuk_setting() {
  if [[ -n "$(docker images -q "$RYUK_IMAGE" 2>/dev/null)" ]]; then
    log "$RYUK_IMAGE is present; testcontainers keeps its reaper"
  else
    log "$RYUK_IMAGE is not present and cannot be pulled; disabling the testcontainers reaper"
    emit "export TESTCONTAINERS_RYUK_DISABLED=true"
  fi
}

ensure_node
ensure_docker
ensure_image NODE_IMAGE "$LOCAL_NODE_IMAGE" build.sh node
# The users service's PostgreSQL (compose's `postgres` profile, the swarm stack, the tests).
ensure_image POSTGRES_IMAGE "$LOCAL_POSTGRES_PREFIX" build-postgres.sh postgresql
ensure_ryuk_setting
