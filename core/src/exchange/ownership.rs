//! What may be done on one site with the NetworkPolicies that carry an agreement's label. A label
//! is only a hint anyone with write access can copy: a policy is the agreement's (to keep or to
//! delete) only when it carries the agreement's UID *and* sits in a namespace that carries the
//! UID of one of the agreement's two Tenants. Anything else is left alone and reported, and a
//! wanted policy is written only into the namespace of the Tenant it is for. Pure: what the site
//! holds is passed in.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::network_policy::{EXCHANGE_UID, ExchangeIdentity, policy_name};
use crate::tenancy::labels;
use crate::tenancy::ownership::{NamespaceOwnership, TenantIdentity};

/// A NetworkPolicy on a site, by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PolicyRef {
    pub namespace: String,
    pub name: String,
}

impl PolicyRef {
    fn of(policy: &NetworkPolicy) -> Self {
        Self {
            namespace: policy.metadata.namespace.clone().unwrap_or_default(),
            name: policy.metadata.name.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "NetworkPolicy {}/{}", self.namespace, self.name)
    }
}

/// A policy left alone, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftAlone {
    pub policy: PolicyRef,
    pub why: String,
}

impl fmt::Display for LeftAlone {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} ({})", self.policy, self.why)
    }
}

/// What to do on one site.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SitePlan {
    /// Wanted policies missing or not as wanted, to write.
    pub write: Vec<NetworkPolicy>,
    /// Wanted policies not written: their namespace is not the Tenant's they are for.
    pub not_written: Vec<LeftAlone>,
    /// The agreement's own policies that are no longer wanted, to delete.
    pub delete: Vec<PolicyRef>,
    /// Policies with the agreement's label that are not provably its own: never touched.
    pub foreign: Vec<LeftAlone>,
}

/// The plan for one site. `parties` are the agreement's Tenants that exist (provider and
/// consumer); `namespaces` the site's namespaces the policies name (absent: not there); `found`
/// the policies on the site carrying the agreement's label; `wanted` those its path needs there.
pub fn plan_site(
    exchange: ExchangeIdentity<'_>,
    parties: &[TenantIdentity],
    namespaces: &BTreeMap<String, ObjectMeta>,
    found: &[NetworkPolicy],
    wanted: &[NetworkPolicy],
) -> SitePlan {
    let mut plan = SitePlan::default();
    for policy in wanted {
        let reference = PolicyRef::of(policy);
        let tenant = label(&policy.metadata, labels::TENANT).unwrap_or_default();
        let party = parties.iter().find(|party| party.name == tenant);
        match namespace_of(party, namespaces.get(&reference.namespace), tenant) {
            Ok(()) => {
                let current = found
                    .iter()
                    .find(|candidate| PolicyRef::of(candidate) == reference);
                if !in_line(current, policy) {
                    plan.write.push(policy.clone());
                }
            }
            Err(why) => plan.not_written.push(LeftAlone {
                policy: reference,
                why,
            }),
        }
    }
    for policy in found {
        let reference = PolicyRef::of(policy);
        if wanted
            .iter()
            .any(|candidate| PolicyRef::of(candidate) == reference)
        {
            continue;
        }
        match provably_ours(exchange, parties, namespaces, policy) {
            Ok(()) => plan.delete.push(reference),
            Err(why) => plan.foreign.push(LeftAlone {
                policy: reference,
                why,
            }),
        }
    }
    plan
}

/// Whether the policy on the site already says what is wanted (its rules, and the labels and
/// UID the agreement's own selectors, the tenant fences and [`plan_site`] rely on): then there
/// is nothing to write, so an agreement in force costs its sites no writes.
pub fn in_line(current: Option<&NetworkPolicy>, wanted: &NetworkPolicy) -> bool {
    let Some(current) = current else {
        return false;
    };
    let carries = |wanted: &Option<BTreeMap<String, String>>,
                   current: &Option<BTreeMap<String, String>>| {
        wanted.iter().flatten().all(|(key, value)| {
            current
                .as_ref()
                .and_then(|current| current.get(key))
                .is_some_and(|found| found == value)
        })
    };
    current.spec == wanted.spec
        && carries(&wanted.metadata.labels, &current.metadata.labels)
        && carries(&wanted.metadata.annotations, &current.metadata.annotations)
}

fn provably_ours(
    exchange: ExchangeIdentity<'_>,
    parties: &[TenantIdentity],
    namespaces: &BTreeMap<String, ObjectMeta>,
    policy: &NetworkPolicy,
) -> Result<(), String> {
    let reference = PolicyRef::of(policy);
    let namespace = namespaces.get(&reference.namespace);
    let owned = parties
        .iter()
        .any(|party| namespace_of(Some(party), namespace, &party.name).is_ok());
    if !owned {
        let names: Vec<&str> = parties.iter().map(|party| party.name.as_str()).collect();
        return Err(format!(
            "namespace {} is not a namespace of Tenant {}",
            reference.namespace,
            names.join(" or ")
        ));
    }
    let uid = policy
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(EXCHANGE_UID));
    match uid {
        Some(uid) if uid == exchange.uid => Ok(()),
        Some(_) => Err(format!(
            "it carries another DataExchange's UID in {EXCHANGE_UID}"
        )),
        // Written before UIDs were recorded: its exact name in a party's namespace.
        None if reference.name == policy_name(exchange.name) => Ok(()),
        None => Err(format!("it carries no {EXCHANGE_UID}")),
    }
}

/// Whether `namespace` (on the site) is `party`'s, by the Tenant UID it carries.
fn namespace_of(
    party: Option<&TenantIdentity>,
    namespace: Option<&ObjectMeta>,
    tenant: &str,
) -> Result<(), String> {
    let Some(party) = party else {
        return Err(format!(
            "Tenant {tenant:?} is not one of the agreement's Tenants, or no longer exists"
        ));
    };
    match NamespaceOwnership::of(namespace, party) {
        NamespaceOwnership::Ours => Ok(()),
        NamespaceOwnership::Absent => Err(format!(
            "the namespace of Tenant {} does not exist on the site",
            party.name
        )),
        NamespaceOwnership::Foreign(whose) => Err(format!(
            "the namespace is not Tenant {}'s: it belongs to {whose}",
            party.name
        )),
    }
}

fn label<'a>(metadata: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(key))
        .map(String::as_str)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;

    const EXCHANGE: ExchangeIdentity<'static> = ExchangeIdentity {
        name: "a",
        uid: "uid-a",
    };

    fn parties() -> Vec<TenantIdentity> {
        vec![
            TenantIdentity {
                name: "registry".to_owned(),
                uid: "uid-registry".to_owned(),
            },
            TenantIdentity {
                name: "health".to_owned(),
                uid: "uid-health".to_owned(),
            },
        ]
    }

    fn namespaces() -> BTreeMap<String, ObjectMeta> {
        let tenant_namespace = |name: &str, tenant: &str, uid: &str| -> ObjectMeta {
            serde_json::from_value(serde_json::json!({
                "name": name,
                "labels": {"app.kubernetes.io/managed-by": "soberana", "soberana.io/tenant": tenant},
                "annotations": {"soberana.io/tenant-uid": uid},
            }))
            .unwrap()
        };
        BTreeMap::from([
            (
                "rc-prod".to_owned(),
                tenant_namespace("rc-prod", "registry", "uid-registry"),
            ),
            (
                "minsa-prod".to_owned(),
                tenant_namespace("minsa-prod", "health", "uid-health"),
            ),
            (
                "aaa".to_owned(),
                serde_json::from_value(serde_json::json!({"name": "aaa"})).unwrap(),
            ),
            (
                "old-prod".to_owned(),
                tenant_namespace("old-prod", "registry", "uid-earlier-registry"),
            ),
        ])
    }

    fn policy(namespace: &str, name: &str, tenant: &str, uid: Option<&str>) -> NetworkPolicy {
        let mut policy: NetworkPolicy = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "soberana", "soberana.io/exchange": "a", "soberana.io/tenant": tenant}},
            "spec": {"podSelector": {"matchLabels": {"soberana.io/workload": "padron"}}, "policyTypes": ["Ingress"]}
        }))
        .unwrap();
        if let Some(uid) = uid {
            policy.metadata.annotations =
                Some(BTreeMap::from([(EXCHANGE_UID.to_owned(), uid.to_owned())]));
        }
        policy
    }

    fn names(policies: &[LeftAlone]) -> Vec<String> {
        policies
            .iter()
            .map(|left| left.policy.to_string())
            .collect()
    }

    #[test]
    fn only_policies_with_the_agreements_uid_in_its_tenants_namespaces_are_deleted() {
        let name = "soberana-exchange-a";
        let found = [
            policy("rc-prod", name, "registry", Some("uid-a")),
            policy("minsa-prod", name, "health", None),
            policy("aaa", name, "registry", Some("uid-a")),
            policy("rc-prod", "copied-label", "registry", None),
            policy("minsa-prod", "earlier", "health", Some("uid-earlier-a")),
            policy("old-prod", name, "registry", Some("uid-a")),
            policy("gone-prod", name, "registry", Some("uid-a")),
        ];
        let plan = plan_site(EXCHANGE, &parties(), &namespaces(), &found, &[]);
        assert_eq!(
            plan.delete
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "NetworkPolicy rc-prod/soberana-exchange-a",
                "NetworkPolicy minsa-prod/soberana-exchange-a"
            ]
        );
        assert_eq!(
            names(&plan.foreign),
            [
                "NetworkPolicy aaa/soberana-exchange-a",
                "NetworkPolicy rc-prod/copied-label",
                "NetworkPolicy minsa-prod/earlier",
                "NetworkPolicy old-prod/soberana-exchange-a",
                "NetworkPolicy gone-prod/soberana-exchange-a",
            ]
        );
        assert!(
            plan.foreign[0]
                .why
                .contains("not a namespace of Tenant registry or health"),
            "{}",
            plan.foreign[0]
        );
        assert!(plan.write.is_empty() && plan.not_written.is_empty());
    }

    #[test]
    fn a_wanted_policy_is_written_only_into_its_tenants_namespace_and_only_when_it_differs() {
        let name = "soberana-exchange-a";
        let wanted = [
            policy("rc-prod", name, "registry", Some("uid-a")),
            policy("minsa-prod", name, "health", Some("uid-a")),
            policy("old-prod", name, "registry", Some("uid-a")),
        ];
        let found = [
            policy("rc-prod", name, "registry", Some("uid-a")),
            policy("minsa-prod", name, "health", None),
        ];
        let plan = plan_site(EXCHANGE, &parties(), &namespaces(), &found, &wanted);
        assert_eq!(plan.write, [wanted[1].clone()], "the UID is added once");
        assert_eq!(
            names(&plan.not_written),
            ["NetworkPolicy old-prod/soberana-exchange-a"]
        );
        assert!(
            plan.not_written[0].why.contains("an earlier Tenant"),
            "{}",
            plan.not_written[0]
        );
        assert!(plan.delete.is_empty() && plan.foreign.is_empty());
    }

    #[test]
    fn a_widened_or_relabelled_policy_is_not_in_line() {
        let wanted = policy("rc-prod", "soberana-exchange-a", "registry", Some("uid-a"));
        let mut on_site = wanted.clone();
        on_site.metadata.resource_version = Some("41".to_owned());
        on_site
            .metadata
            .labels
            .get_or_insert_default()
            .insert("added-by".to_owned(), "someone".to_owned());
        assert!(in_line(Some(&on_site), &wanted));
        assert!(!in_line(None, &wanted));
        let mut widened = wanted.clone();
        widened.spec.as_mut().unwrap().policy_types = Some(vec!["Egress".to_owned()]);
        assert!(!in_line(Some(&widened), &wanted));
        let mut unlabelled = wanted.clone();
        unlabelled
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .remove(labels::TENANT);
        assert!(!in_line(Some(&unlabelled), &wanted));
    }
}
