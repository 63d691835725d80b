#!/usr/bin/env bash
# Installs the appliance into a root filesystem (default /): the binary, the systemd unit, the service account,
# the default configuration, and a first-boot step that creates the sealing key and the first admin.
# Usage: appliance/install.sh [ROOT] [BINARY]   (run from the repository, after `cargo build --release`)
set -euo pipefail
root=${1:-/}
binary=${2:-target/release/scaidrive-connectors}
here=$(cd "$(dirname "$0")" && pwd)
install -D -m 0755 "$binary" "$root/usr/bin/scaidrive-connectors"
install -D -m 0644 "$here/../systemd/scaidrive-connectors.service" "$root/usr/lib/systemd/system/scaidrive-connectors.service"
install -D -m 0644 "$here/../systemd/scaidrive-connectors-first-boot.service" "$root/usr/lib/systemd/system/scaidrive-connectors-first-boot.service"
install -D -m 0644 "$here/scaidrive-connectors.sysusers" "$root/usr/lib/sysusers.d/scaidrive-connectors.conf"
install -D -m 0755 "$here/first-boot.sh" "$root/usr/lib/scaidrive-connectors/first-boot.sh"
install -D -m 0644 "$here/../README.md" "$root/usr/share/doc/scaidrive-connectors/README.md"
install -d -m 0700 "$root/etc/scaidrive-connectors"
[ -e "$root/etc/scaidrive-connectors/config.toml" ] || install -m 0644 "$here/config.toml" "$root/etc/scaidrive-connectors/config.toml"
if [ "$root" = / ]; then
  systemd-sysusers
  systemctl daemon-reload
  systemctl enable scaidrive-connectors-first-boot.service scaidrive-connectors.service
fi
