//! The sync engine: decides what a connector run does and carries it out, through the [`side::Side`] trait only.
//!
//! Pure: no tokio, redb, axum, reqwest or smb here (CI greps for it). The transports in `sides/` adapt SMB,
//! SharePoint and the drive store to [`side::Side`]; the file-state actor feeds base records in and takes the new
//! ones out through [`execute::BaseSink`]. `SYNC.md` is the contract; [`decide`] holds its tables.
//!
//! A run: list both sides and read the base as three streams in path order → [`reconcile`] merges them into a
//! [`plan::Plan`] → [`run`] fills in the few hashes the plan asks for and applies the [`safety`] guard →
//! [`execute`] carries the plan out, action by action, stoppable between actions.

pub mod config;
pub mod conflict;
pub mod conformance;
mod copies;
pub mod decide;
pub mod entry;
pub mod execute;
pub mod faulty;
pub mod filters;
pub mod memory;
pub mod merge;
pub mod names;
pub mod path;
pub mod plan;
pub mod reconcile;
mod renames;
pub mod run;
pub mod safety;
pub mod side;
mod spelling;
mod transfer;

#[cfg(test)]
mod tests;

pub use config::{Direction, RunConfig, Strategy, SyncSettings};
pub use entry::{Attributes, BaseRecord, ContentHash, Entry, HashKind, Kind, Sha256Digest, SideId, SideState};
pub use path::SyncPath;
pub use plan::{Action, Plan, Report, ReportKind};
pub use side::{Capabilities, Disposition, DriveSide, ErrorCode, Precondition, Side, SideError};
