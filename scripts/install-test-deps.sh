#!/usr/bin/env bash
# Installs what the tests need and is not already present. Debian packages: Samba (each SMB test starts its own
# smbd on loopback, tests/common/samba.rs), its client tools, samba-tool and setfacl (to set NT ACLs), openssl (a
# throwaway certificate for the Graph SDK check), python3-venv. Python packages go in a virtualenv under target/
# (PEP 668 forbids installing into Debian's system Python), listed in scripts/requirements-test.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(samba smbclient samba-common-bin acl openssl python3-venv)
missing=()
for package in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Debian package starts Samba's own daemons; the tests need none of them (they run their own smbd).
if command -v systemctl >/dev/null 2>&1; then
  for service in smbd nmbd samba-ad-dc winbind; do systemctl stop "$service" >/dev/null 2>&1 || true; done
fi

if [ -s scripts/requirements-test.txt ]; then
  venv=target/test-venv
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if ! cmp -s scripts/requirements-test.txt "$venv/.installed" 2>/dev/null; then
    echo "== installing Python test packages"
    "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-test.txt
    cp scripts/requirements-test.txt "$venv/.installed"
  fi
fi
