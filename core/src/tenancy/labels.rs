//! The labels Soberana puts on what it manages in member clusters. Admission policies and
//! NetworkPolicies select on them, so their keys never change.

/// The Tenant (institution) a namespace belongs to.
pub const TENANT: &str = "soberana.io/tenant";
/// The tenant's environment (`prod`, `staging`, …).
pub const ENVIRONMENT: &str = "soberana.io/environment";
/// The most sensitive DataClassification allowed in the namespace.
pub const CLASSIFICATION_CEILING: &str = "soberana.io/classification-ceiling";
/// The classification given to unlabelled workloads in the namespace (the Tenant's
/// `spec.defaultClassification`).
pub const DEFAULT_CLASSIFICATION: &str = "soberana.io/default-classification";
/// The classification of a workload's data (set by agencies, checked by admission policies).
pub const CLASSIFICATION: &str = "soberana.io/classification";
/// Standard marker of objects Soberana created.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY`].
pub const MANAGER: &str = "soberana";

/// The Pod Security Standard Kubernetes enforces in a namespace.
pub const POD_SECURITY_ENFORCE: &str = "pod-security.kubernetes.io/enforce";
/// Annotation on a tenant namespace: the UID of the Tenant that owns it. A name can be reused by
/// a new Tenant; a UID cannot, so this is what Soberana checks before writing or deleting.
pub const TENANT_UID: &str = "soberana.io/tenant-uid";

/// The labels only Soberana may set or change on tenant namespaces: they grant network access
/// (NetworkPolicies select tenants by them) and decide what admission allows there.
pub const TENANT_NAMESPACE_LABELS: [&str; 5] = [
    TENANT,
    ENVIRONMENT,
    CLASSIFICATION_CEILING,
    DEFAULT_CLASSIFICATION,
    MANAGED_BY,
];
