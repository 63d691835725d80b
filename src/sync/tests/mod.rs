//! Engine-level tests: SYNC.md tables, properties, crash injection.
