//! Engine-level tests through the real pipeline and in-memory sides: SYNC.md's tables cell by cell, conflicts,
//! renames, names, filters, execution, properties over random histories, and crash injection.

mod execution;
mod harness;
mod conflicts;
mod crash;
pub mod props;
mod renames;
mod table;
