//! Soberana's protobuf contract (package `soberana.v1`) and the Rust code generated from it.
