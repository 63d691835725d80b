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
//!
//! How a request flows through (`src/api/scim/` and the SCIM actor do this over the store):
//! - POST/PUT: `ScimUser::from_json(body)` / `ScimGroup::from_json(body)`, then the store checks uniqueness
//!   on `eval::fold_case(userName)` (409 `Uniqueness`) and that member ids exist (400 `InvalidValue`),
//!   stores, and answers `record.to_json(base)` through the request's `Projection`.
//! - PATCH: `PatchRequest::from_json(body)`, then `patch::patch_user(&record, &req)` or
//!   `members::patch_group(&record, &req)`; store only if the result differs (else keep version and
//!   lastModified). The group outcome lists members added and removed.
//! - GET list and `/.search`: `SearchRequest::from_query` / `from_json`; `filter(rt)` parses and checks;
//!   `eval::index_hint` picks an index lookup instead of a scan; `eval::matches` on each candidate;
//!   `sort(rt)` then `page(default, max)`; `list::list_response`.
//! - Errors: `err.status()` and `err.to_json()`; `error::error_body` for 401/429/500 decided at the edge.
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
pub mod resource;
pub mod schema;
