//! `soberana-api`: the gRPC server agencies' migration tooling and security teams call. Owns the
//! services, authentication and authorization, per-caller limits, caches of the data centre and
//! ledger checkpoint signing. Depends on `core`, `proto` and `store`; nothing depends on it.

pub mod server;
