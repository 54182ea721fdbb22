//! Soberana's protobuf contract (package `soberana.v1`) and the Rust code generated from it by
//! `build.rs`: messages, tonic clients and servers, and the file descriptor set that server
//! reflection serves. The contract alone: it depends on no other Soberana crate.

#![allow(
    missing_debug_implementations,
    clippy::doc_lazy_continuation,
    clippy::large_enum_variant,
    clippy::too_many_lines,
    reason = "generated code"
)]

/// The `soberana.v1` package.
pub mod v1 {
    tonic::include_proto!("soberana.v1");

    /// The encoded file descriptors of the package, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("soberana_v1_descriptor");
}
