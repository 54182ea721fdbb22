//! Signed checkpoints of the decision ledger: when to sign, the signer, and where they go.

pub mod schedule;
pub mod signer;
pub mod sinks;
