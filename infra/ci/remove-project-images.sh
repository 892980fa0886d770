#!/usr/bin/env bash
# Makes a warm machine look like a fresh one to every script and test: removes each image tag
# the project builds (IMAGE_NAMESPACE/*), keeping the base images infra/dev/bootstrap.sh made
# or pulled (NODE_IMAGE, POSTGRES_IMAGE). A script that starts an image it never builds then
# fails here as it would on a new machine, instead of passing on what another script left.
# --no-prune keeps the untagged layers, which are the classic builder's cache: a rebuild of
# unchanged sources takes seconds. Run after bootstrap (it reads the exported image names).
set -euo pipefail
cd "$(dirname "$0")/../.."

setting() { local key=$1; echo "${!key:-$(grep "^$key=" .env | tail -n 1 | cut -d= -f2- | tr -d "\"'")}"; }
namespace="$(setting IMAGE_NAMESPACE)"
keep=("$(setting NODE_IMAGE)" "$(setting POSTGRES_IMAGE)")

started=$(date +%s%N)
mapfile -t tags < <(docker image ls --format '{{.Repository}}:{{.Tag}}' "$namespace/*" | grep -v ':<none>$' || true)
removed=()
for tag in "${tags[@]}"; do
  [[ " ${keep[*]} " == *" $tag "* ]] && continue
  removed+=("$tag")
done
# -f: a stopped container left by an earlier run may still name the image; the tag goes anyway.
((${#removed[@]})) && docker image rm --force --no-prune "${removed[@]}" >/dev/null
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
echo "ci: removed ${#removed[@]} project image tag(s) in ${elapsed_ms} ms, kept ${keep[*]}${removed:+ (removed: ${removed[*]})}"
