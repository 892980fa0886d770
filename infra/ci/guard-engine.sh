#!/usr/bin/env bash
# Runs a command (CI: README's `npm test`) on an engine where something already listens on
# host ports 8080 and 5000, as on a reader's machine, and checks that the command leaves the
# engine as it found it: both listeners still answer, no container, network or volume was
# added or removed, swarm mode is unchanged, and no image went (built test images may stay).
# The verdict is one `ci:` line and a one-test report in vitest's JSON shape,
# .reports/engine-guard.json, which infra/ci/summarize-tests.mjs counts.
# Exit code: the command's when it failed, else 1 when the check failed, else 0.
#
# Usage: bash infra/ci/guard-engine.sh npm test
set -uo pipefail
cd "$(dirname "$0")/../.."

ports=(8080 5000)
# The base image the lab builds from (.env, or the one bootstrap exported): nothing is pulled.
image="${NODE_IMAGE:-$(grep '^NODE_IMAGE=' .env | cut -d= -f2-)}"
report=.reports/engine-guard.json
title="$* beside listeners on host ports ${ports[0]} and ${ports[1]} leaves the engine as it was"

engine_state() {
  {
    docker ps --all --no-trunc --format 'container {{.ID}} {{.Names}} {{.State}}'
    docker network ls --no-trunc --format 'network {{.ID}} {{.Name}}'
    docker volume ls --format 'volume {{.Name}}'
    docker info --format 'swarm {{.Swarm.LocalNodeState}}'
  } | sort
}
# Named images (repository:tag): what a reader would miss. An untagged image id can leave this
# list without being deleted (once a later build has it as a parent it no longer shows), and
# infra/ci/remove-project-images.sh leaves the untagged cache on purpose.
images() { docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -v '<none>' | sort -u; }
answers() { [[ "$(curl --silent --max-time 2 "http://127.0.0.1:$1/")" == "sentinel $1" ]]; }
remove_sentinels() { for port in "${ports[@]}"; do docker rm --force "ci-sentinel-$port" >/dev/null 2>&1; done; }

write_report() {
  local status=$1 message=$2
  mkdir -p .reports
  STATUS="$status" MESSAGE="$message" TITLE="$title" node -e '
    const { STATUS: status, MESSAGE: message, TITLE: title } = process.env;
    const passed = status === "passed";
    const test = { title, fullName: title, status, failureMessages: passed ? [] : [message] };
    process.stdout.write(JSON.stringify({
      numPassedTests: passed ? 1 : 0, numFailedTests: passed ? 0 : 1, numPendingTests: 0, numTodoTests: 0,
      testResults: [{ name: "infra/ci/guard-engine.sh", status, message, assertionResults: [test] }],
    }, null, 2));
  ' >"$report"
}

trap remove_sentinels EXIT
for port in "${ports[@]}"; do
  docker run --detach --name "ci-sentinel-$port" --publish "$port:$port" "$image" node -e \
    "require('node:http').createServer((_, res) => res.end('sentinel $port')).listen($port)" >/dev/null
done
for port in "${ports[@]}"; do
  for ((waited = 0; waited < 30; waited++)); do answers "$port" && break; sleep 1; done
  if ! answers "$port"; then
    echo "ci: FAIL: the sentinel on host port $port did not answer, so npm test did not run"
    write_report failed "the sentinel on host port $port did not answer"
    exit 1
  fi
done
echo "ci: sentinels answer on host ports ${ports[0]} and ${ports[1]}; running $*"

state_before="$(engine_state)"
images_before="$(images)"
"$@"
command_status=$?

problems=()
for port in "${ports[@]}"; do answers "$port" || problems+=("host port $port no longer answers as before"); done
changes="$(diff <(echo "$state_before") <(engine_state) | grep '^[<>]' | sed 's/^</removed:/; s/^>/added:/')"
[[ -z "$changes" ]] || problems+=("the engine changed: $(echo "$changes" | paste -sd ';' -)")
images_after="$(images)"
removed_images="$(comm -23 <(echo "$images_before") <(echo "$images_after") | wc -l)"
added_images="$(comm -13 <(echo "$images_before") <(echo "$images_after") | wc -l)"
((removed_images == 0)) || problems+=("$removed_images image(s) that were there before are gone")

if ((${#problems[@]} == 0)); then
  write_report passed ''
  echo "ci: PASS: $title (both still answer; no container, network or volume left or taken; $added_images new image(s))"
else
  message="$(printf '%s\n' "${problems[@]}" | paste -sd ';' -)"
  write_report failed "$message"
  echo "ci: FAIL: $title: $message"
fi
((command_status != 0)) && exit "$command_status"
((${#problems[@]} == 0)) || exit 1
