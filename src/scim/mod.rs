//! SCIM 2.0 protocol pieces with no I/O (RFC 7643 schema, RFC 7644 protocol). They take parsed JSON and
//! return records, changes or `ScimError`s; the HTTP routes, the SCIM actor and the user/group store live
//! elsewhere and call in here.
//!
//! - `schema`: attribute definitions and resource types; `discovery`: the documents built from them.
//! - `filter` (parser, printer) and `eval` (evaluator, index hints).
//! - `resource` (User record, meta, ETags) and `group` (Group record), with `normalize` for input forms.
//! - `patch` (the PATCH engine) and `members` (group PATCH with membership deltas).
//! - `attrs` (projection, sorting) and `list` (paging, ListResponse, search requests).
//! - `error`: `ScimError` and the RFC 7644 error body.
pub mod attrs;
pub mod discovery;
pub mod error;
pub mod eval;
pub mod filter;
pub mod group;
pub mod list;
pub mod members;
pub(crate) mod normalize;
pub mod patch;
#[cfg(test)]
mod replay;
pub mod resource;
pub mod schema;
