//! The `soberana` command line. `offline` checks placement and residency from the manifests users
//! `kubectl apply`, with no cluster (for CI gates); `remote` is a client of the Soberana API.
//! Depends on `core` (the one definition of every rule), `proto` (the API's contract) and `store`
//! (reading ledger checkpoint files) only: never on the API server or the operator.

pub mod agreements;
pub mod offline;
pub mod remote;
pub mod sla;
