//! Member clusters: connections (kubeconfigs checked for safety, clients cached, every call under
//! a deadline), applying and
//! replacing objects there, watching their policies, and finding drift and violations.

pub mod connections;
pub mod deadline;
pub mod drift;
pub mod kubeconfig_safety;
pub mod paged_list;
pub mod policy_watches;
pub mod residency_policies;
pub mod site_nodes;
pub mod tenant_objects;
pub mod violation_scan;
pub mod whole_replace;
pub mod workload_sites;
