//! The Graph emulator driven over HTTP as a client would drive the real service; every assertion is a
//! behaviour `shared/reference/GRAPH.md` documents for Microsoft Graph. One file per concern, over one harness.

mod auth;
mod certificates;
mod content;
mod delta;
mod harness;
mod items;
mod throttling;
mod writes;
