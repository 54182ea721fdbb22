//! The Soberana gRPC API for agencies' migration tooling, and the `soberana` CLI.

pub mod checkpoint_files;
pub mod manifests;
pub mod offline;
pub mod references;
pub mod remote;
pub mod remote_commands;
pub mod remote_output;
pub mod remote_token;
pub mod report;
pub mod server;
pub mod store;
pub mod unknown_fields;
