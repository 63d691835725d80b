#!/usr/bin/env bash
# The sync engine (src/sync) and the SCIM protocol (src/scim) are pure: they take values and return plans or
# changes. This fails if either imports a crate that does I/O.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for dir in src/sync src/scim; do
  [ -d "$dir" ] || continue
  if hits=$(grep -rnE '^\s*use (tokio|redb|axum|reqwest|smb)\b|\b(tokio|redb|axum|reqwest|smb)::' "$dir"); then
    echo "$dir must not do I/O, but:"
    echo "$hits"
    status=1
  fi
done
exit $status
