//! What a tenant gets on every site it may use: per environment, a namespace labelled with the
//! tenant and its classification ceiling, a ResourceQuota, a LimitRange, NetworkPolicies
//! isolating it from other tenants, and a RoleBinding making its owners admins there. Pure: the
//! operator applies what this builds.

pub mod labels;
pub mod objects;
pub mod sites;

pub use objects::{TenantObject, desired_objects};
pub use sites::sites_for_tenant;
