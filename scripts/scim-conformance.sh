#!/usr/bin/env bash
# Runs the third-party SCIM 2.0 checker scim2-tester (Yaal Coop, PyPI) against a running appliance.
#
#   SCIM_TOKEN=<bearer token> scripts/scim-conformance.sh http://127.0.0.1:8443/scim/v2
#
# The token comes from the environment, not argv, because other users of the machine can read command lines.
# Fails (exit 1) when any check reports ERROR or CRITICAL, when discovery fails (bad token, server down), or
# when fewer checks succeed than tests/scim-conformance.expected records, so a run that silently tested
# nothing cannot pass. Other non-SUCCESS results (SKIPPED, DEVIATION, ...) are printed with their reason.
#
# Environment:
#   SCIM_TOKEN            bearer token (required)
#   SCIM_VENV             virtualenv to use (default: target/test-venv, which scripts/install-test-deps.sh fills
#                         from scripts/requirements-test.txt; created here from that file if missing)
#   SCIM_EXCLUDE_TAGS     comma-separated scim2-tester tags to skip; list each one with its reason in
#                         tests/scim-conformance.excluded.md
#   SCIM_EXPECTED_FILE    file whose first number is the minimum SUCCESS count
#                         (default: tests/scim-conformance.expected)
set -euo pipefail

base_url="${1:-}"
if [[ -z "$base_url" ]]; then
    echo "usage: SCIM_TOKEN=... $0 <scim base url, e.g. http://127.0.0.1:8443/scim/v2>" >&2
    exit 2
fi
if [[ -z "${SCIM_TOKEN:-}" ]]; then
    echo "SCIM_TOKEN is not set" >&2
    exit 2
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SCIM_VENV:-$repo/target/test-venv}"
expected_file="${SCIM_EXPECTED_FILE:-$repo/tests/scim-conformance.expected}"

if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import scim2_tester, httpx2' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo/scripts/requirements-test.txt"
fi

if [[ ! -f "$expected_file" ]]; then
    echo "missing $expected_file: record the minimum number of SUCCESS results there" >&2
    exit 1
fi
min_success="$(grep -Eo '^[0-9]+' "$expected_file" | head -n1 || true)"
if [[ -z "$min_success" ]]; then
    echo "$expected_file has no leading number (minimum SUCCESS count)" >&2
    exit 1
fi

SCIM_BASE_URL="$base_url" SCIM_MIN_SUCCESS="$min_success" exec "$venv/bin/python" - <<'PY'
import os
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

base = os.environ["SCIM_BASE_URL"].rstrip("/")
minimum = int(os.environ["SCIM_MIN_SUCCESS"])
exclude = {t.strip() for t in os.environ.get("SCIM_EXCLUDE_TAGS", "").split(",") if t.strip()}

http = Client(base_url=base, headers={"Authorization": f"Bearer {os.environ['SCIM_TOKEN']}"}, timeout=30)
client = SyncSCIMClient(http)
try:
    # Without discover() first, exclude_tags silently skips most checks and still reports nothing failed.
    client.discover()
except Exception as exc:  # a bad token or a dead server: fail loudly
    print(f"CRITICAL discovery: could not discover the server at {base}: {exc}")
    sys.exit(1)

results = check_server(client, exclude_tags=exclude or None)
counts = {}
for r in results:
    counts[r.status] = counts.get(r.status, 0) + 1
    if r.status != Status.SUCCESS:
        where = f" [{r.resource_type}]" if r.resource_type else ""
        print(f"{r.status.name} {r.title}{where}")
        if r.reason:
            print(f"    {r.reason}")

failed = counts.get(Status.ERROR, 0) + counts.get(Status.CRITICAL, 0)
passed = counts.get(Status.SUCCESS, 0)
summary = ", ".join(f"{n} {s.name}" for s, n in sorted(counts.items(), key=lambda kv: kv[0].value))
print(f"results: {summary}")
print(f"{passed} passed, {failed} failed")
if passed < minimum:
    print(f"only {passed} checks succeeded, fewer than the {minimum} recorded as expected")
    sys.exit(1)
sys.exit(1 if failed else 0)
PY
