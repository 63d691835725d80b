//! Engine-level tests through the real pipeline and in-memory sides: SYNC.md's tables cell by cell, conflicts,
//! renames, names, filters, execution, properties over random histories, and crash injection.

mod conflicts;
mod crash;
mod execution;
mod harness;
pub mod props;
mod renames;
mod table;
