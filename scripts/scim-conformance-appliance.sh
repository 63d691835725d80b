#!/usr/bin/env bash
# Starts the appliance on a temporary data directory and port 0, issues a SCIM token with the command line, and
# runs scripts/scim-conformance.sh (scim2-tester) against its /scim/v2. Used by scripts/test.sh; exits non-zero
# when the checker fails (ERROR/CRITICAL, or fewer successes than tests/scim-conformance.expected).
#
#   scripts/scim-conformance-appliance.sh            # builds the binary (debug) first
#   SCAIDRIVE_BIN=target/release/scaidrive-connectors scripts/scim-conformance-appliance.sh
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
bin="${SCAIDRIVE_BIN:-$target_dir/debug/scaidrive-connectors}"
if [[ -z "${SCAIDRIVE_BIN:-}" ]]; then
    cargo build --quiet --bin scaidrive-connectors
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

export SCAIDRIVE_DATA_DIR="$work/data"
export SCAIDRIVE_LISTEN="127.0.0.1:0"
unset SCAIDRIVE_CONFIG CREDENTIALS_DIRECTORY
"$bin" init >"$work/init.log"
token="$("$bin" token create --user admin --name conformance --kind scim | tail -n1 | tr -d '[:space:]')"

"$bin" serve 2>"$work/serve.log" &
server_pid=$!
address=""
for _ in $(seq 1 300); do
    address="$(grep -o 'local_addr=[^ ]*' "$work/serve.log" | head -n1 | cut -d= -f2 || true)"
    [[ -n "$address" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the appliance exited:" >&2
        cat "$work/serve.log" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$address" ]]; then
    echo "the appliance did not log its address:" >&2
    cat "$work/serve.log" >&2
    exit 1
fi

SCIM_TOKEN="$token" scripts/scim-conformance.sh "http://$address/scim/v2"
