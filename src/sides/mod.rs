//! Transports behind the sync engine's `Side` trait: each adapts one kind of storage and sorts its own
//! failures into the engine's error classes.

pub mod budget;
pub mod drive;
pub mod sharepoint;
pub mod smb;
