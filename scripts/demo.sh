#!/usr/bin/env bash
# Brings the appliance up on its embedded defaults (HTTP on 127.0.0.1:8080, data in a fresh directory) and shows it
# working with curl: users, a share with a file, and a real sync from a Samba share on loopback (Samba is installed
# from Debian's packages if missing; starting smbd and its user needs root, or sudo). Stops everything and removes
# the directory on exit; SCAIDRIVE_DEMO_KEEP=1 keeps them.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --bin scaidrive-connectors
bin=target/debug/scaidrive-connectors
work=$(mktemp -d /tmp/scaidrive-demo.XXXXXX)
export SCAIDRIVE_DATA_DIR="$work/data"
url=http://127.0.0.1:8080

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  if [ -f "$work/samba/run/smbd.pid" ]; then as_root kill -TERM "$(cat "$work/samba/run/smbd.pid")" 2>/dev/null || true; fi
  [ -n "${smb_user:-}" ] && as_root userdel "$smb_user" 2>/dev/null || true
  [ "${SCAIDRIVE_DEMO_KEEP:-0}" = 1 ] || as_root rm -rf "$work"
}
trap cleanup EXIT

# Reads one field of the JSON on stdin: `json_get id`, `json_get status`.
json_get() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
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
  -d '{"name": "Finance"}' "$url/api/v1/shares" | json_get id)
echo "share: $share"
printf 'Q1 revenue: 42\n' > "$work/report.txt"
show curl -sS -H "Authorization: Bearer $token" -T "$work/report.txt" "$url/api/v1/shares/$share/content?path=/2026/report.txt"
show curl -sS -H "Authorization: Bearer $token" "$url/api/v1/shares/$share/entries?path=/2026"
show curl -sS -H "Authorization: Bearer $token" "$url/api/v1/shares/$share/content?path=/2026/report.txt"

step "a Samba share on loopback with a few files"
command -v smbd >/dev/null || { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq samba smbclient; }
base="$work/samba"; smb_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
smb_user="sdemo$$"; smb_pass="Demo-$$-pass"
mkdir -p "$base"/{etc,run,lock,state,cache,private,ncalrpc,log,share/Reports/2026}
chmod 755 "$work" "$base"; chmod 700 "$base/private"; chmod 777 "$base/share"
cat > "$base/etc/smb.conf" <<CONF
[global]
  server role = standalone server
  smb ports = $smb_port
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  server min protocol = SMB2_10
  map to guest = never
  passdb backend = tdbsam:$base/private/passdb.tdb
  private dir = $base/private
  pid directory = $base/run
  lock directory = $base/lock
  state directory = $base/state
  cache directory = $base/cache
  ncalrpc dir = $base/ncalrpc
  log file = $base/log/log.%m
  load printers = no
  disable spoolss = yes
[data]
  path = $base/share
  read only = no
CONF
printf 'Q1 revenue: 42\n' > "$base/share/Reports/2026/Q1.txt"
printf 'Q2 revenue: 47\n' > "$base/share/Reports/2026/Q2.txt"
printf 'Meeting notes, café au lait\n' > "$base/share/Notes – été.txt"
as_root useradd --no-create-home --shell /usr/sbin/nologin "$smb_user"
printf '%s\n%s\n' "$smb_pass" "$smb_pass" | as_root smbpasswd -c "$base/etc/smb.conf" -a -s "$smb_user" >/dev/null
as_root smbd --foreground --debug-stdout -s "$base/etc/smb.conf" > "$base/log/smbd.out" 2>&1 </dev/null &
for _ in $(seq 200); do
  smbclient -s "$base/etc/smb.conf" -p "$smb_port" -U "$smb_user%$smb_pass" //127.0.0.1/data -c ls >/dev/null 2>&1 && break
  sleep 0.05
done
echo "smbd on 127.0.0.1:$smb_port, share 'data': Reports/2026/Q1.txt, Reports/2026/Q2.txt, 'Notes – été.txt'"

step "an SMB connector into the Finance share, and a sync"
connector=$(curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "{
  \"name\": \"Demo Samba\", \"server\": \"smb://127.0.0.1:$smb_port/data\",
  \"username\": \"$smb_user\", \"password\": \"$smb_pass\",
  \"target_share_id\": \"$share\", \"target_path\": \"/From SMB\", \"sync_direction\": \"smb_to_scaidrive\"
}" "$url/api/v1/smb-connectors" | json_get id)
echo "connector: $connector (its password is write-only: reads say password_set)"
job=$(curl -sS -X POST -H "Authorization: Bearer $token" "$url/api/v1/smb-connectors/$connector/sync" | json_get job_id)
for _ in $(seq 600); do
  status=$(curl -sS -H "Authorization: Bearer $token" "$url/api/v1/smb-connectors/$connector/jobs/$job" | json_get status)
  case "$status" in queued|running) sleep 0.1 ;; *) break ;; esac
done
show curl -sS -H "Authorization: Bearer $token" "$url/api/v1/smb-connectors/$connector/jobs"
step "the SMB files, now in ScaiDrive"
show curl -sS -H "Authorization: Bearer $token" "$url/api/v1/shares/$share/entries?path=/From%20SMB/Reports/2026"
show curl -sS -H "Authorization: Bearer $token" "$url/api/v1/shares/$share/content?path=/From%20SMB/Reports/2026/Q2.txt"

step "bad input gets a stable error code and changes nothing"
show curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"user_name": "bob", "role": "owner"}' "$url/api/v1/users"

step "the audit log"
show curl -sS -H "Authorization: Bearer $token" "$url/api/v1/audit-events?event_type=user.*"

step "a consistent backup while serving"
show "$bin" backup --to "$work/backup.redb"

echo "The appliance log is in $work/serve.log (kept with SCAIDRIVE_DEMO_KEEP=1)."
