//! The NetworkPolicies one open path is made of: in the provider's namespace, ingress from
//! exactly the consumer's namespaces (and Workloads) to exactly the provider Workload's pods on
//! exactly the agreed ports; and, when the consumer tenant restricts its egress, the matching
//! egress in each consumer namespace. Tenant admins cannot edit them (`soberana-tenant-admin`
//! has no NetworkPolicy writes, and the fence policy on members refuses them).

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::decision::SitePath;
use crate::digest::digest;
use crate::propagation::member_objects::WORKLOAD;
use crate::resources::data_exchange::DataExchangeSpec;
use crate::tenancy::labels;

/// Label on every object an agreement opened: the DataExchange's name. Anyone may copy a label,
/// so it only finds candidates; [`EXCHANGE_UID`] and the namespace's Tenant UID prove them ours.
pub const EXCHANGE_LABEL: &str = "soberana.io/exchange";
/// Annotation on every object an agreement opened: the DataExchange's UID. A name can be reused
/// by a later agreement; a UID cannot.
pub const EXCHANGE_UID: &str = "soberana.io/exchange-uid";

/// Longest object name Kubernetes accepts for a NetworkPolicy.
const MAX_NAME: usize = 253;
const PREFIX: &str = "soberana-exchange-";

/// The name of the agreement's policies: `soberana-exchange-<name>`, shortened with a digest
/// when that would be too long.
pub fn policy_name(exchange: &str) -> String {
    let name = format!("{PREFIX}{exchange}");
    if name.len() <= MAX_NAME {
        return name;
    }
    let hash = digest(exchange.as_bytes());
    let keep = MAX_NAME - PREFIX.len() - hash.len() - 1;
    format!(
        "{PREFIX}{}-{hash}",
        &exchange[..floor_char_boundary(exchange, keep)]
    )
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    (0..=index.min(text.len()))
        .rev()
        .find(|candidate| text.is_char_boundary(*candidate))
        .unwrap_or(0)
}

/// The agreement as the objects it opens record it: its name and its UID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExchangeIdentity<'a> {
    pub name: &'a str,
    pub uid: &'a str,
}

/// The policies of one site's path. `consumer_restricts_egress`: the consumer tenant lists
/// egress allowances, so its pods may leave only where a policy says.
pub fn network_policies(
    exchange: ExchangeIdentity<'_>,
    spec: &DataExchangeSpec,
    path: &SitePath,
    consumer_restricts_egress: bool,
) -> Vec<NetworkPolicy> {
    let mut policies = vec![provider_ingress(exchange, spec, path)];
    if consumer_restricts_egress {
        policies.extend(
            path.consumer_namespaces
                .iter()
                .map(|namespace| consumer_egress(exchange, spec, path, namespace)),
        );
    }
    policies
}

fn provider_ingress(
    exchange: ExchangeIdentity<'_>,
    spec: &DataExchangeSpec,
    path: &SitePath,
) -> NetworkPolicy {
    let from = path
        .consumer_namespaces
        .iter()
        .map(|namespace| NetworkPolicyPeer {
            namespace_selector: Some(namespace_selector(namespace, &spec.consumer.tenant)),
            pod_selector: consumer_pods(spec),
            ..NetworkPolicyPeer::default()
        })
        .collect();
    NetworkPolicy {
        metadata: metadata(exchange, &spec.provider.tenant, &path.provider_namespace),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(provider_pods(path)),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: Some(ports(spec)),
            }]),
            egress: None,
        }),
    }
}

fn consumer_egress(
    exchange: ExchangeIdentity<'_>,
    spec: &DataExchangeSpec,
    path: &SitePath,
    namespace: &str,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: metadata(exchange, &spec.consumer.tenant, namespace),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(consumer_pods(spec).unwrap_or_default()),
            policy_types: Some(vec!["Egress".to_owned()]),
            ingress: None,
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(namespace_selector(
                        &path.provider_namespace,
                        &spec.provider.tenant,
                    )),
                    pod_selector: Some(provider_pods(path)),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(ports(spec)),
            }]),
        }),
    }
}

fn metadata(exchange: ExchangeIdentity<'_>, tenant: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(policy_name(exchange.name)),
        namespace: Some(namespace.to_owned()),
        labels: Some(BTreeMap::from([
            (labels::MANAGED_BY.to_owned(), labels::MANAGER.to_owned()),
            (labels::TENANT.to_owned(), tenant.to_owned()),
            (
                EXCHANGE_LABEL.to_owned(),
                exchange_label_value(exchange.name),
            ),
        ])),
        annotations: Some(BTreeMap::from([(
            EXCHANGE_UID.to_owned(),
            exchange.uid.to_owned(),
        )])),
        ..ObjectMeta::default()
    }
}

/// The value of `EXCHANGE_LABEL` on the agreement's objects, to find them again: the name, or
/// for a name longer than a label value may be (63), its start and a digest.
pub fn exchange_label_value(exchange: &str) -> String {
    if exchange.len() <= 63 {
        return exchange.to_owned();
    }
    let hash = digest(exchange.as_bytes());
    format!(
        "{}-{hash}",
        &exchange[..floor_char_boundary(exchange, 63 - hash.len() - 1)]
    )
}

/// The namespace named `namespace` *and* marked as `tenant`'s: a name alone would admit a
/// namespace of that name that someone else owns on a site (the tenant in `Conflict` there);
/// the tenant label only Soberana may set (`soberana-tenant-namespace-labels`).
fn namespace_selector(namespace: &str, tenant: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([
            (
                "kubernetes.io/metadata.name".to_owned(),
                namespace.to_owned(),
            ),
            (labels::TENANT.to_owned(), tenant.to_owned()),
        ])),
        ..LabelSelector::default()
    }
}

fn provider_pods(path: &SitePath) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(
            WORKLOAD.to_owned(),
            path.provider_workload.clone(),
        )])),
        ..LabelSelector::default()
    }
}

/// The consumer Workloads' pods when the agreement names some; `None` (every pod of the
/// namespaces) otherwise.
fn consumer_pods(spec: &DataExchangeSpec) -> Option<LabelSelector> {
    (!spec.consumer.workloads.is_empty()).then(|| LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: WORKLOAD.to_owned(),
            operator: "In".to_owned(),
            values: Some(spec.consumer.workloads.clone()),
        }]),
        ..LabelSelector::default()
    })
}

fn ports(spec: &DataExchangeSpec) -> Vec<NetworkPolicyPort> {
    spec.provider
        .ports
        .iter()
        .map(|port| NetworkPolicyPort {
            port: Some(IntOrString::Int(i32::from(port.port))),
            protocol: Some(port.protocol.as_str().to_owned()),
            end_port: None,
        })
        .collect()
}
