//! The SharePoint test binary: the Graph emulator driven over HTTP as Graph's clients would drive the real
//! service (`emulator`), and the SharePoint side against it (`side`: conformance, auth, throttling, delta,
//! uploads, check-outs; `engine`: full engine runs against an in-memory drive).

mod emulator;
mod engine;
mod extras;
mod fixture;
mod side;
