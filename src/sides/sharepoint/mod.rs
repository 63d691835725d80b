//! The SharePoint side: Microsoft Graph client, OAuth, delta, wire types and content hash.

pub mod quickxor;
