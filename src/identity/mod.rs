//! Identity: who an SMB (or SharePoint) principal is in ScaiDrive, and what an NT ACL means in ScaiDrive ACEs.
//!
//! - `translate`: NT ACL -> ScaiDrive ACEs, pure (never grants more than SMB).
//! - `resolve`: SID -> ScaiDrive principal (explicit mapping, email, display name, fallback) with a per-run
//!   cache and the per-run report of unmapped principals.
//! - `csv`: the `smb-sid,scaidrive-user-id` import format, parsed and validated row by row.

pub mod csv;
pub mod resolve;
pub mod translate;
