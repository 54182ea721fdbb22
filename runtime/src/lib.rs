//! What `soberana-operator` and `soberana-api` do the same way: log set-up with `--log-format`,
//! the management cluster's connection from `--kubeconfig` or inferred, waiting for SIGTERM or
//! Ctrl-C, metrics with their `/metrics` endpoint, caches filled by watches, and a deadline on every
//! call of a Kubernetes client. Process
//! plumbing only: no Soberana rule, store or service lives here, and it depends on no other
//! Soberana crate.

pub mod locking;
pub mod logging;
pub mod management_cluster;
pub mod metrics;
pub mod request_deadline;
pub mod shutdown;
pub mod watch_cache;
