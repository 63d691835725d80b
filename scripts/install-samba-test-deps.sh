#!/bin/sh
# Installs what the SMB tests need: a Samba server and its client tools (tests start their own
# smbd on loopback; see tests/common/samba.rs) and setfacl. Debian packages; needs root.
set -eu
missing=""
command -v smbd >/dev/null 2>&1 || missing="$missing samba"
command -v smbclient >/dev/null 2>&1 || missing="$missing smbclient"
command -v samba-tool >/dev/null 2>&1 || missing="$missing samba-common-bin"
command -v setfacl >/dev/null 2>&1 || missing="$missing acl"
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing
fi
# The Debian package starts its own daemons; the tests need none of them.
for svc in smbd nmbd samba-ad-dc winbind; do
    if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
done
