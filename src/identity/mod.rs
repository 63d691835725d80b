//! Identity: who an SMB (or SharePoint) principal is in ScaiDrive, and what an NT ACL means in ScaiDrive ACEs.
//!
//! - `translate`: NT ACL -> ScaiDrive ACEs, pure (never grants more than SMB).
//! - `resolve`: SID -> ScaiDrive principal (explicit mapping, email, display name, fallback) with a per-run
//!   cache and the per-run report of unmapped principals.
//! - `csv`: the `smb-sid,scaidrive-user-id` import format, parsed and validated row by row.
//! - `states`: what the permission pass remembers per path and per connector, and the work it derives.
//! - `pass`: the permission pass of a run (read, resolve, translate, set in the drive), source-agnostic.
//! - `smb`: the pass over an SMB share (ACLs and LSA on the run's session), called by the SMB launcher.

pub mod csv;
pub mod pass;
pub mod resolve;
pub mod smb;
pub mod states;
pub mod translate;
