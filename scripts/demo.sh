#!/usr/bin/env bash
# Brings the appliance up on its embedded defaults (HTTP on 127.0.0.1:8080, data in a fresh directory) and shows it
# working with curl. Stops the appliance and removes the directory on exit; SCAIDRIVE_DEMO_KEEP=1 keeps them.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --bin scaidrive-connectors
bin=target/debug/scaidrive-connectors
work=$(mktemp -d /tmp/scaidrive-demo.XXXXXX)
export SCAIDRIVE_DATA_DIR="$work/data"
url=http://127.0.0.1:8080

cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  [ "${SCAIDRIVE_DEMO_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { echo "\$ $*" | sed -E 's/Bearer sdt_[A-Za-z0-9_-]+/Bearer $TOKEN/'; "$@"; echo; }

step "init: data directory, sealing key, first admin"
token=$("$bin" init | tail -n 1)
echo "admin token: ${token:0:8}… (printed once by init)"

step "serve on the embedded defaults"
"$bin" serve 2>"$work/serve.log" &
server=$!
for _ in $(seq 200); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.05; done
show curl -sS "$url/readyz"

step "who am I"
show curl -sS -H "Authorization: Bearer $token" "$url/api/v1/me"

step "create a user and a group"
show curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"user_name": "alice", "email": "alice@example.test", "display_name": "Alice"}' "$url/api/v1/users"
show curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"display_name": "Finance Team"}' "$url/api/v1/groups"

step "create a share, upload a file, list and download it"
share=$(curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"name": "Finance"}' "$url/api/v1/shares" | sed -E 's/.*"id":"(shr_[^"]+)".*/\1/')
echo "share: $share"
printf 'Q1 revenue: 42\n' > "$work/report.txt"
show curl -sS -H "Authorization: Bearer $token" -T "$work/report.txt" "$url/api/v1/shares/$share/content?path=/2026/report.txt"
show curl -sS -H "Authorization: Bearer $token" "$url/api/v1/shares/$share/entries?path=/2026"
show curl -sS -H "Authorization: Bearer $token" "$url/api/v1/shares/$share/content?path=/2026/report.txt"

step "bad input gets a stable error code and changes nothing"
show curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"user_name": "bob", "role": "owner"}' "$url/api/v1/users"

step "the audit log"
show curl -sS -H "Authorization: Bearer $token" "$url/api/v1/audit-events?event_type=user.*"

step "a consistent backup while serving"
show "$bin" backup --to "$work/backup.redb"

echo "The appliance log is in $work/serve.log (kept with SCAIDRIVE_DEMO_KEEP=1)."
