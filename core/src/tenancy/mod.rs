//! What a tenant gets on every site it may use: per environment, a namespace labelled with the
//! tenant and its classification ceiling, a ResourceQuota, a LimitRange, NetworkPolicies
//! isolating it from other tenants, and a RoleBinding making its owners admins there; and the
//! rules that keep one tenant's names and namespaces from ever being another's. Pure: the
//! operator applies what this builds.

pub mod labels;
pub mod name_conflicts;
pub mod objects;
pub mod ownership;
pub mod sites;

pub use name_conflicts::{NameConflict, name_conflict};
pub use objects::{
    TENANT_ADMIN_ROLE, TenantObject, desired_objects, tenant_holds_namespace, tenant_of_namespace,
};
pub use ownership::{NamespaceOwnership, TenantIdentity};
pub use sites::{Departure, departure, sites_for_tenant};
