//! The mobile logs bridge as a standalone HTTP/1.1 server; `src/main.rs` wires it.

pub mod server;
