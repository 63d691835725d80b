//! Tests of the SMB side against a real Samba server on loopback (`tests/common/samba.rs` starts one per test
//! on an ephemeral port): the transport and its fixes to the `smb` crate, the engine's `Side` adapter, LSA name
//! lookups, and the sync engine end to end. One binary, since each file under `tests/` links the crate again.

// The engine's run future over the SMB side is deeply nested.
#![recursion_limit = "256"]

#[path = "../common/engine_run.rs"]
mod engine_run;
#[path = "../common/samba.rs"]
mod samba;

mod engine;
mod identity;
mod lsa;
mod side;
mod transport;
