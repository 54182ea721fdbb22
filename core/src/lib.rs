//! Soberana's domain: the custom resources, the placement engine, the residency-policy compiler,
//! tenancy, interoperability agreements and the decision ledger's records, hash chain and signed checkpoints.
//!
//! This crate performs no I/O and knows nothing of Kubernetes clients or gRPC transports, so the
//! operator, the gRPC API and the offline CLI all share one definition of every rule.

pub mod digest;
pub mod exchange;
pub mod ledger;
pub mod placement;
pub mod propagation;
pub mod residency;
pub mod resources;
pub mod slo;
pub mod tenancy;
