//! The Soberana operator: controllers that keep member clusters in line with the policy held in
//! the management cluster. Built on `core` (every decision) and `store` (appending placement
//! decisions to the ledger); it must not depend on the API server or the CLI.

pub mod conditions;
pub mod controllers;
pub mod crd_manifests;
pub mod members;
pub mod runtime;
