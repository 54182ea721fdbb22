//! The Soberana gRPC API for agencies' migration tooling, and the `soberana` CLI.

pub mod manifests;
pub mod offline;
pub mod references;
pub mod report;
pub mod unknown_fields;
