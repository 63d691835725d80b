//! SCIM 2.0 protocol pieces with no I/O (RFC 7643 schema, RFC 7644 protocol).
pub mod attrs;
pub mod error;
pub mod eval;
pub mod filter;
pub mod group;
pub mod members;
pub(crate) mod normalize;
pub mod patch;
pub mod resource;
pub mod schema;
