#!/usr/bin/env bash
# Runs every test of the project, on a fresh Debian machine with only the Rust toolchain: it first installs what
# the tests need (Samba from Debian's packages, Python checkers from PyPI), then checks formatting and lints, the
# purity of the engine and SCIM modules, runs the whole test suite, and runs the SCIM conformance checker against
# a running appliance.
set -euo pipefail
cd "$(dirname "$0")/.."
# A full test run is not an edit loop: incremental caches would only take disk (a CI machine may have little).
export CARGO_INCREMENTAL=0

scripts/install-test-deps.sh

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
echo "== the sync engine and the SCIM protocol do no I/O"
scripts/check-purity.sh
echo "== cargo test"
cargo test --no-fail-fast
echo "== Microsoft's Graph SDK against the Graph emulator"
cargo build --quiet --bin graph-emulator
GRAPH_EMULATOR_BIN=target/debug/graph-emulator target/test-venv/bin/python -m pytest -q tests/graph_sdk_check.py
echo "== SCIM conformance (scim2-tester against a running appliance)"
scripts/scim-conformance-appliance.sh
