//! The SMB side's plumbing: a logged-in share connection on the `smb` crate and the operations
//! the sync engine needs, beneath the `Side` adapter.
//!
//! - `transport`: our TCP transport (no Nagle stall, one write per frame).
//! - `client`: `SmbConfig` and `SmbClient` (connect, login, tree, shutdown, call timeouts).
//! - `errors`: `SmbError` and its stable codes.
//! - `names`: share addresses, path resolution under `base_path`, Windows name rules, temp names.
//! - `entry`: `SmbEntry` (listing and stat results) and FILETIME conversion.
//! - `listing`: folder listings and the streamed tree walk in path order.
//! - `read`: streamed reads with several requests in flight.
//! - `write`: atomic uploads (temporary hidden file, then rename over the target).
//! - `acl`: `NtAcl`, owner/group/DACL in plain values for the ACL translation.
//! - `ops`: stat, mkdir, delete, move, attributes, security descriptors.
//! - `side`: `SmbSide`, the adapter to the sync engine's `Side` trait.
//! - `lsa`: SID <-> name lookups over the `lsarpc` pipe (DCE/RPC, NDR20).

pub mod acl;
pub mod client;
pub mod entry;
pub mod errors;
pub mod listing;
pub mod lsa;
pub mod names;
pub mod ops;
pub mod read;
pub mod side;
pub mod transport;
pub mod write;

pub use client::{SmbClient, SmbConfig};
pub use entry::{SmbAttributes, SmbEntry};
pub use errors::{ErrorScope, SmbError};
pub use listing::{SiblingOrder, Walk};
pub use read::SmbReader;
pub use write::SmbUpload;
