//! Installing Soberana into the harness's clusters as a data centre would: CRDs and example
//! scenarios, least-privilege RBAC and site credentials, the workspace's own programs run as
//! processes (the operator), and the accounts an agency or a security team would use.

pub mod agency_access;
pub mod exchange_approvals;
pub mod operator_process;
pub mod soberana_install;
pub mod soberana_manifests;
pub mod state_data_centre;
pub mod workspace_binaries;
