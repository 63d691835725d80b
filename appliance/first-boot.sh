#!/usr/bin/env bash
# First boot of an appliance image: creates the sealing key (root-only, passed to the service as a systemd
# credential) and initializes the data directory as the service account, keeping the first admin's API token in
# /root/scaidrive-admin-token (mode 0600). Does nothing once the data directory is initialized.
set -euo pipefail
key=/etc/scaidrive-connectors/sealing.key
data=/var/lib/scaidrive-connectors
[ -e "$data/scaidrive.redb" ] && exit 0
if [ ! -e "$key" ]; then
  (umask 077 && head -c 32 /dev/urandom | base64 > "$key")
fi
umask 077
systemd-run --quiet --wait --pipe --collect \
  -p User=scaidrive -p StateDirectory=scaidrive-connectors -p StateDirectoryMode=0700 \
  -p LoadCredential=sealing.key:"$key" \
  -E SCAIDRIVE_DATA_DIR="$data" -E SCAIDRIVE_CONFIG=/etc/scaidrive-connectors/config.toml \
  /usr/bin/scaidrive-connectors init --admin admin > /root/scaidrive-admin-token
echo "scaidrive-connectors initialized; the admin token is in /root/scaidrive-admin-token"
