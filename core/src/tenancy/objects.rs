//! The Kubernetes objects that make up a tenant on one site.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::resources::tenant::{OwnerKind, Tenant, TenantEnvironment, TenantQuota, TenantSpec};

use super::labels;
use super::name_conflicts::name_conflict;
use super::ownership::TenantIdentity;

/// The ClusterRole tenant owners are bound to in their namespaces: `admin` without the writes
/// that would let them dismantle their own fences (NetworkPolicies, quota, limits). Installed on
/// every member by `charts/soberana-member/files/member-cluster.yaml`.
pub const TENANT_ADMIN_ROLE: &str = "soberana-tenant-admin";

/// Default CPU request and limit given to containers that state none.
const DEFAULT_CPU_REQUEST: &str = "100m";
const DEFAULT_CPU_LIMIT: &str = "500m";
/// Default memory request and limit given to containers that state none.
const DEFAULT_MEMORY_REQUEST: &str = "128Mi";
const DEFAULT_MEMORY_LIMIT: &str = "512Mi";

/// One object Soberana keeps in a member cluster for a tenant.
#[derive(Clone, Debug, PartialEq)]
pub enum TenantObject {
    Namespace(Namespace),
    ResourceQuota(ResourceQuota),
    LimitRange(LimitRange),
    NetworkPolicy(NetworkPolicy),
    RoleBinding(RoleBinding),
}

impl TenantObject {
    /// `Kind namespace/name`, for events and errors.
    pub fn describe(&self) -> String {
        let (kind, metadata) = match self {
            Self::Namespace(object) => ("Namespace", &object.metadata),
            Self::ResourceQuota(object) => ("ResourceQuota", &object.metadata),
            Self::LimitRange(object) => ("LimitRange", &object.metadata),
            Self::NetworkPolicy(object) => ("NetworkPolicy", &object.metadata),
            Self::RoleBinding(object) => ("RoleBinding", &object.metadata),
        };
        match &metadata.namespace {
            Some(namespace) => format!(
                "{kind} {namespace}/{}",
                metadata.name.as_deref().unwrap_or_default()
            ),
            None => format!("{kind} {}", metadata.name.as_deref().unwrap_or_default()),
        }
    }
}

/// The namespace of a tenant's environment on every site: `<shortCode>-<environment>`.
pub fn namespace_name(short_code: &str, environment: &str) -> String {
    format!("{short_code}-{environment}")
}

/// The Tenant one of whose environments is `namespace`, if any. The namespace, not what a caller
/// says in a request, decides whose a request is.
pub fn tenant_of_namespace<'a>(
    tenants: impl IntoIterator<Item = &'a Tenant>,
    namespace: &str,
) -> Option<&'a Tenant> {
    tenants.into_iter().find(|tenant| {
        tenant.spec.environments.iter().any(|environment| {
            namespace_name(&tenant.spec.short_code, &environment.name) == namespace
        })
    })
}

/// Whether the Tenant named `tenant` holds `namespace`: it exists, the namespace is one of its
/// environments', and no earlier Tenant holds the same name (see [`name_conflict`]). What an
/// object says about its tenant (a Workload's `spec.tenant`) is believed only then: anyone who
/// may create an object may write any tenant's name in it.
pub fn tenant_holds_namespace(tenants: &[Tenant], tenant: &str, namespace: &str) -> bool {
    tenants.iter().any(|candidate| {
        candidate.metadata.name.as_deref() == Some(tenant)
            && candidate.spec.environments.iter().any(|environment| {
                namespace_name(&candidate.spec.short_code, &environment.name) == namespace
            })
            && name_conflict(candidate, tenants).is_none()
    })
}

/// Everything the tenant needs on a site, namespaces first (the rest live in them). Each
/// namespace carries the tenant's UID, which is what proves it is the tenant's.
/// `ingress_namespace` is where the site's ingress controller runs; it may reach the tenant.
pub fn desired_objects(
    identity: &TenantIdentity,
    tenant: &TenantSpec,
    ingress_namespace: &str,
) -> Vec<TenantObject> {
    let namespaces = tenant
        .environments
        .iter()
        .map(|environment| tenant_namespace(identity, tenant, environment));
    let contents = tenant.environments.iter().flat_map(|environment| {
        environment_objects(identity, tenant, environment, ingress_namespace)
    });
    namespaces.chain(contents).collect()
}

/// An environment's namespace, labelled with what admission reads (ceiling, default
/// classification, Pod Security level) and annotated with the owning Tenant's UID.
fn tenant_namespace(
    identity: &TenantIdentity,
    tenant: &TenantSpec,
    environment: &TenantEnvironment,
) -> TenantObject {
    let mut namespace_labels = common_labels(&identity.name, &environment.name);
    namespace_labels.insert(
        labels::CLASSIFICATION_CEILING.to_owned(),
        tenant.highest_classification.clone(),
    );
    if let Some(default) = &tenant.default_classification {
        namespace_labels.insert(labels::DEFAULT_CLASSIFICATION.to_owned(), default.clone());
    }
    namespace_labels.insert(
        labels::POD_SECURITY_ENFORCE.to_owned(),
        tenant.pod_security.label_value().to_owned(),
    );
    TenantObject::Namespace(Namespace {
        metadata: ObjectMeta {
            name: Some(namespace_name(&tenant.short_code, &environment.name)),
            labels: Some(namespace_labels),
            annotations: Some(BTreeMap::from([(
                labels::TENANT_UID.to_owned(),
                identity.uid.clone(),
            )])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    })
}

/// What lives in an environment's namespace: quota, container defaults, network isolation (and
/// the tenant's egress allowances), and the owners' admin binding.
fn environment_objects(
    identity: &TenantIdentity,
    tenant: &TenantSpec,
    environment: &TenantEnvironment,
    ingress_namespace: &str,
) -> Vec<TenantObject> {
    let name = identity.name.as_str();
    let namespace = namespace_name(&tenant.short_code, &environment.name);
    let metadata = |object_name: &str| ObjectMeta {
        name: Some(object_name.to_owned()),
        namespace: Some(namespace.clone()),
        labels: Some(common_labels(name, &environment.name)),
        ..ObjectMeta::default()
    };
    let quota = environment.quota.unwrap_or(tenant.quota);
    let mut objects = vec![
        TenantObject::ResourceQuota(ResourceQuota {
            metadata: metadata("soberana-quota"),
            spec: Some(ResourceQuotaSpec {
                hard: Some(quota_limits(&quota)),
                ..ResourceQuotaSpec::default()
            }),
            ..ResourceQuota::default()
        }),
        TenantObject::LimitRange(LimitRange {
            metadata: metadata("soberana-defaults"),
            spec: Some(LimitRangeSpec {
                limits: vec![LimitRangeItem {
                    type_: "Container".to_owned(),
                    default: Some(resources(DEFAULT_CPU_LIMIT, DEFAULT_MEMORY_LIMIT)),
                    default_request: Some(resources(DEFAULT_CPU_REQUEST, DEFAULT_MEMORY_REQUEST)),
                    ..LimitRangeItem::default()
                }],
            }),
        }),
        network_policy(
            metadata("soberana-default-deny-ingress"),
            vec!["Ingress"],
            None,
            None,
        ),
        network_policy(
            metadata("soberana-allow-same-tenant"),
            vec!["Ingress"],
            Some(vec![from_namespaces(labels::TENANT, name)]),
            None,
        ),
        network_policy(
            metadata("soberana-allow-ingress-controller"),
            vec!["Ingress"],
            Some(vec![from_namespaces(
                "kubernetes.io/metadata.name",
                ingress_namespace,
            )]),
            None,
        ),
    ];
    if !tenant.egress.is_empty() {
        objects.push(network_policy(
            metadata("soberana-egress-allowances"),
            vec!["Egress"],
            None,
            Some(egress_rules(tenant)),
        ));
    }
    if !tenant.owners.is_empty() {
        objects.push(owners_binding(metadata("soberana-tenant-admins"), tenant));
    }
    objects
}

/// Binds the tenant's owners to the tenant-admin ClusterRole in one namespace.
fn owners_binding(metadata: ObjectMeta, tenant: &TenantSpec) -> TenantObject {
    let subjects = tenant
        .owners
        .iter()
        .map(|owner| Subject {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: match owner.kind {
                OwnerKind::User => "User",
                OwnerKind::Group => "Group",
            }
            .to_owned(),
            name: owner.name.clone(),
            namespace: None,
        })
        .collect();
    TenantObject::RoleBinding(RoleBinding {
        metadata,
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "ClusterRole".to_owned(),
            name: TENANT_ADMIN_ROLE.to_owned(),
        },
        subjects: Some(subjects),
    })
}

fn common_labels(tenant: &str, environment: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::MANAGED_BY.to_owned(), labels::MANAGER.to_owned()),
        (labels::TENANT.to_owned(), tenant.to_owned()),
        (labels::ENVIRONMENT.to_owned(), environment.to_owned()),
    ])
}

fn quota_limits(quota: &TenantQuota) -> BTreeMap<String, Quantity> {
    let mut hard = BTreeMap::from([
        (
            "requests.cpu".to_owned(),
            Quantity(format!("{}m", quota.cpu_millicores)),
        ),
        (
            "requests.memory".to_owned(),
            Quantity(format!("{}Mi", quota.memory_mebibytes)),
        ),
        (
            "requests.storage".to_owned(),
            Quantity(format!("{}Gi", quota.storage_gibibytes)),
        ),
    ]);
    if let Some(pods) = quota.pods {
        hard.insert("pods".to_owned(), Quantity(pods.to_string()));
    }
    hard
}

fn resources(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_owned(), Quantity(cpu.to_owned())),
        ("memory".to_owned(), Quantity(memory.to_owned())),
    ])
}

fn from_namespaces(key: &str, value: &str) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(key.to_owned(), value.to_owned())])),
                ..LabelSelector::default()
            }),
            ..NetworkPolicyPeer::default()
        }]),
        ports: None,
    }
}

/// Egress only to the allowances, plus DNS: once a tenant lists allowances, nothing else leaves.
fn egress_rules(tenant: &TenantSpec) -> Vec<NetworkPolicyEgressRule> {
    let dns = NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_owned(),
                    "kube-system".to_owned(),
                )])),
                ..LabelSelector::default()
            }),
            ..NetworkPolicyPeer::default()
        }]),
        ports: Some(
            ["UDP", "TCP"]
                .into_iter()
                .map(|protocol| NetworkPolicyPort {
                    port: Some(IntOrString::Int(53)),
                    protocol: Some(protocol.to_owned()),
                    end_port: None,
                })
                .collect(),
        ),
    };
    let allowances = tenant
        .egress
        .iter()
        .map(|allowance| NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: allowance.cidr.clone(),
                    except: None,
                }),
                ..NetworkPolicyPeer::default()
            }]),
            ports: (!allowance.ports.is_empty()).then(|| {
                allowance
                    .ports
                    .iter()
                    .map(|port| NetworkPolicyPort {
                        port: Some(IntOrString::Int(i32::from(*port))),
                        protocol: Some("TCP".to_owned()),
                        end_port: None,
                    })
                    .collect()
            }),
        });
    std::iter::once(dns).chain(allowances).collect()
}

fn network_policy(
    metadata: ObjectMeta,
    policy_types: Vec<&str>,
    ingress: Option<Vec<NetworkPolicyIngressRule>>,
    egress: Option<Vec<NetworkPolicyEgressRule>>,
) -> TenantObject {
    TenantObject::NetworkPolicy(NetworkPolicy {
        metadata,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(policy_types.into_iter().map(str::to_owned).collect()),
            ingress,
            egress,
        }),
    })
}
