//! Tenants that claim the same short code or the same namespace name. Admission on one object
//! cannot see the others, so the operator judges it: the Tenant created first keeps its names,
//! and a later one that collides is provisioned nowhere until it changes.

use std::collections::BTreeSet;

use crate::resources::tenant::{ProvisioningState, Tenant};

use super::objects::namespace_name;

/// Why a Tenant may not be provisioned: an earlier Tenant holds one of its names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameConflict {
    /// The Tenant that keeps the name.
    pub holder: String,
    /// What both claim, for the status message.
    pub claim: String,
}

impl std::fmt::Display for NameConflict {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} is already Tenant {}'s, which was created first; nothing is provisioned until this Tenant uses another shortCode",
            self.claim, self.holder
        )
    }
}

/// The first earlier Tenant among `all` whose short code or namespace names collide with
/// `tenant`'s, if any. "Earlier" is: provisioned somewhere already, then by creation time (whole
/// seconds, so two Tenants applied together can tie), then by name, so that exactly one of two
/// colliding Tenants yields, whichever order the operator sees them in, and a Tenant that
/// already runs never yields to a newcomer.
pub fn name_conflict<'a>(
    tenant: &Tenant,
    all: impl IntoIterator<Item = &'a Tenant>,
) -> Option<NameConflict> {
    let name = tenant.metadata.name.as_deref().unwrap_or_default();
    let rank = |candidate: &Tenant| {
        let provisioned = candidate.status.as_ref().is_some_and(|status| {
            status
                .sites
                .iter()
                .any(|entry| entry.state == ProvisioningState::Provisioned)
        });
        (
            !provisioned,
            candidate
                .metadata
                .creation_timestamp
                .clone()
                .map(|time| time.0),
            candidate.metadata.name.clone().unwrap_or_default(),
        )
    };
    let own_rank = rank(tenant);
    let own_namespaces = namespaces(tenant);
    all.into_iter()
        .filter(|other| other.metadata.name.as_deref() != Some(name))
        .filter(|other| rank(other) < own_rank)
        .find_map(|other| {
            let holder = other.metadata.name.clone().unwrap_or_default();
            if other.spec.short_code == tenant.spec.short_code {
                return Some(NameConflict {
                    holder,
                    claim: format!("shortCode {}", tenant.spec.short_code),
                });
            }
            namespaces(other)
                .intersection(&own_namespaces)
                .next()
                .map(|namespace| NameConflict {
                    holder,
                    claim: format!("namespace {namespace}"),
                })
        })
}

fn namespaces(tenant: &Tenant) -> BTreeSet<String> {
    tenant
        .spec
        .environments
        .iter()
        .map(|environment| namespace_name(&tenant.spec.short_code, &environment.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    use super::*;

    fn tenant(name: &str, short_code: &str, environments: &[&str], created: i64) -> Tenant {
        let mut tenant: Tenant = serde_json::from_value(json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant",
            "metadata": {"name": name},
            "spec": {
                "displayName": name, "shortCode": short_code, "highestClassification": "public",
                "environments": environments.iter().map(|environment| json!({"name": environment})).collect::<Vec<_>>(),
                "quota": {"cpuMillicores": 1, "memoryMebibytes": 1}
            }
        }))
        .expect("a valid tenant");
        tenant.metadata.creation_timestamp =
            Some(Time(Timestamp::from_second(created).expect("a valid time")));
        tenant
    }

    #[test]
    fn a_reused_short_code_is_refused_to_the_later_tenant_only() {
        let first = tenant("ministry-of-health", "minsa", &["prod"], 100);
        let second = tenant("impostor", "minsa", &["dev"], 200);
        let all = [first.clone(), second.clone()];
        assert_eq!(
            name_conflict(&second, &all).map(|conflict| conflict.to_string()),
            Some("shortCode minsa is already Tenant ministry-of-health's, which was created first; nothing is provisioned until this Tenant uses another shortCode".to_owned())
        );
        assert_eq!(name_conflict(&first, &all), None);
    }

    #[test]
    fn namespaces_that_spell_the_same_are_a_conflict() {
        // Written before environment names lost their '-': `a` + `b-prod` is `a-b` + `prod`.
        let first = tenant("first", "a-b", &["prod"], 100);
        let mut second = tenant("second", "a", &["prod"], 200);
        second.spec.environments[0].name = "b-prod".to_owned();
        let all = [first, second.clone()];
        assert_eq!(
            name_conflict(&second, &all),
            Some(NameConflict {
                holder: "first".to_owned(),
                claim: "namespace a-b-prod".to_owned()
            })
        );
    }

    #[test]
    fn equal_creation_times_are_ordered_by_name() {
        let alpha = tenant("alpha", "same", &["prod"], 100);
        let beta = tenant("beta", "same", &["prod"], 100);
        let all = [alpha.clone(), beta.clone()];
        assert_eq!(name_conflict(&alpha, &all), None);
        assert!(name_conflict(&beta, &all).is_some());
    }

    #[test]
    fn a_tenant_already_provisioned_never_yields_to_a_newcomer_of_the_same_second() {
        let mut running = tenant("ministry-of-health", "minsa", &["prod"], 100);
        running.status = Some(
            serde_json::from_value(json!({
                "sites": [{"site": "state-dc", "state": "Provisioned"}]
            }))
            .expect("a valid status"),
        );
        // Same second, and a name that sorts first: still the newcomer yields.
        let newcomer = tenant("impostor", "minsa", &["prod"], 100);
        let all = [running.clone(), newcomer.clone()];
        assert_eq!(name_conflict(&running, &all), None);
        assert_eq!(
            name_conflict(&newcomer, &all).map(|conflict| conflict.holder),
            Some("ministry-of-health".to_owned())
        );
    }

    #[test]
    fn distinct_names_do_not_conflict() {
        let health = tenant("ministry-of-health", "minsa", &["prod", "staging"], 100);
        let tax = tenant("tax", "hacienda", &["prod"], 50);
        assert_eq!(name_conflict(&health, &[health.clone(), tax]), None);
    }
}
