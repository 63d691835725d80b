//! Integration tests of the appliance through its public surfaces: the HTTP API and the command line. One test
//! binary (each file under `tests/` links the crate again); the modules below group the behaviours.

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/samba.rs"]
mod samba;

mod auth;
mod bad_input;
mod cli;
mod drive;
mod drive_faults;
mod identity_import;
mod operations;
mod permissions;
mod principals;
mod scim;
mod scim_bad_input;
mod smb_conflicts;
mod smb_connectors;
mod smb_directions;
mod smb_interruptions;
mod smb_names;
mod smb_ops;
mod smb_sync;
mod smb_world;
mod tls;
