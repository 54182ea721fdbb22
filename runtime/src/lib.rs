//! What `soberana-operator` and `soberana-api` do the same way: log set-up with `--log-format`,
//! the management cluster's connection from `--kubeconfig` or inferred, and waiting for SIGTERM
//! or Ctrl-C. Process plumbing only: no Soberana rule, store or service lives here.

pub mod locking;
pub mod logging;
pub mod management_cluster;
pub mod shutdown;
