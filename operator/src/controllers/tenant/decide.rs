//! Decide, for a Tenant: whether it may be provisioned at all, which sites it leaves and which
//! only await a person's confirmation, and the status that reports where it stands. Pure: every
//! function here takes what was observed and returns what to do or say.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use soberana_core::placement::{Snapshot, SnapshotError};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::tenant::{
    ProvisioningState, Tenant, TenantSiteStatus, TenantSpec, TenantStatus,
};
use soberana_core::tenancy::{Departure, departure, name_conflict};

use super::{RETRY_NAME_CONFLICT, RETRY_PENDING};
use crate::conditions::{ConditionType, bounded_message, condition};

/// The `Degraded` reason (and Warning Event) of a Tenant naming a classification that does not
/// exist.
pub(super) const CLASSIFICATION_MISSING: &str = "ClassificationMissing";

/// The outcome on one site.
#[derive(Debug)]
pub(super) struct SiteOutcome {
    pub site: String,
    pub state: ProvisioningState,
    pub message: Option<String>,
}

/// A site to try again later, with why.
pub(super) fn pending(site: &str, message: String) -> SiteOutcome {
    SiteOutcome {
        site: site.to_owned(),
        state: ProvisioningState::Pending,
        message: Some(bounded_message(&message)),
    }
}

/// Why provisioning waits, changing nothing on any site.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Held {
    pub reason: &'static str,
    pub message: String,
    pub retry: std::time::Duration,
}

/// Decide whether the tenant may be provisioned at all: not while another Tenant holds its
/// name, nor while the classifications cannot be read or none exists (every site would be
/// judged ineligible, and removals would follow). Pure.
pub(super) fn admissible<'a, 't>(
    tenant: &Tenant,
    all_tenants: impl IntoIterator<Item = &'t Tenant>,
    judged: &'a Result<Snapshot, SnapshotError>,
) -> Result<&'a Snapshot, Held> {
    if let Some(conflict) = name_conflict(tenant, all_tenants) {
        return Err(Held {
            reason: "NameConflict",
            message: conflict.to_string(),
            retry: RETRY_NAME_CONFLICT,
        });
    }
    let snapshot = judged.as_ref().map_err(|error| Held {
        reason: "PolicyInvalid",
        message: format!(
            "the data classifications cannot be read ({error}); nothing is changed on any site until they are fixed"
        ),
        retry: RETRY_PENDING,
    })?;
    if snapshot.lowest_classification().is_none() {
        return Err(Held {
            reason: "NoClassifications",
            message: "no DataClassification exists, so no site can be judged; nothing is changed on any site until one is defined".to_owned(),
            retry: RETRY_PENDING,
        });
    }
    Ok(snapshot)
}

/// Of the sites the tenant is on (`previous`) but no longer targets, those a person's decision
/// empties (`leave`) and those only a policy change took away, which keep their namespaces as
/// `RemovalPending` until `spec.confirmRemovalFrom` names them. A site that no longer exists
/// (`existing`) cannot be cleaned and leaves nothing to track.
pub(super) fn departures(
    spec: &TenantSpec,
    previous: &BTreeMap<String, TenantSiteStatus>,
    targets: &BTreeSet<String>,
    existing: &BTreeSet<String>,
    snapshot: &Snapshot,
) -> (Vec<String>, Vec<TenantSiteStatus>) {
    let mut leave = Vec::new();
    let mut awaiting = Vec::new();
    let gone = previous
        .keys()
        .filter(|site| !targets.contains(*site) && existing.contains(*site));
    for site in gone {
        match departure(spec, site, snapshot) {
            Departure::Remove => leave.push(site.clone()),
            Departure::AwaitConfirmation(why) => awaiting.push(TenantSiteStatus {
                site: site.clone(),
                state: ProvisioningState::RemovalPending,
                message: Some(bounded_message(&format!(
                    "the tenant may no longer use this site: {why}; its namespaces are kept until spec.confirmRemovalFrom names the site"
                ))),
            }),
        }
    }
    (leave, awaiting)
}

/// Where the tenant stands on each site, by name: the outcome on each target, each removal that
/// failed (pending, retried), and each site awaiting confirmation.
pub(super) fn site_entries(
    outcomes: &[SiteOutcome],
    failed_removals: &[(String, String)],
    awaiting: &[TenantSiteStatus],
) -> Vec<TenantSiteStatus> {
    let mut entries: Vec<TenantSiteStatus> = outcomes
        .iter()
        .map(|outcome| TenantSiteStatus {
            site: outcome.site.clone(),
            state: outcome.state,
            message: outcome.message.clone(),
        })
        .chain(
            failed_removals
                .iter()
                .map(|(site, error)| TenantSiteStatus {
                    site: site.clone(),
                    state: ProvisioningState::Pending,
                    message: Some(bounded_message(&format!("removal pending: {error}"))),
                }),
        )
        .chain(awaiting.iter().cloned())
        .collect();
    entries.sort_by(|left, right| left.site.cmp(&right.site));
    entries
}

/// The classifications the Tenant names that do not exist (deleted since, or never created),
/// each as `field "name"`: the namespaces keep announcing a ceiling no policy knows, so it is
/// reported, never acted on (nothing is removed because a classification went). Pure.
pub(super) fn missing_classifications(
    spec: &TenantSpec,
    classifications: &[DataClassification],
) -> Vec<String> {
    let exists = |name: &str| {
        classifications
            .iter()
            .any(|classification| classification.metadata.name.as_deref() == Some(name))
    };
    let named = std::iter::once(("spec.highestClassification", &spec.highest_classification))
        .chain(
            spec.default_classification
                .iter()
                .map(|name| ("spec.defaultClassification", name)),
        );
    named
        .filter(|(_, name)| !exists(name))
        .map(|(field, name)| format!("{field} {name:?}"))
        .collect()
}

/// Report: the status for where the tenant stands on each site (`entries`, sorted), with
/// `Ready` (every one of its `targets` sites provisioned) and `Degraded` (a conflict first,
/// then classifications it names that do not exist (`missing`), then sites pending, then
/// removals awaiting confirmation), and whether provisioning is complete (nothing left to
/// retry).
pub(super) fn reported_status(
    existing: &[Condition],
    entries: Vec<TenantSiteStatus>,
    targets: usize,
    missing: &[String],
    generation: Option<i64>,
) -> (TenantStatus, bool) {
    let sites_in = |wanted: &dyn Fn(ProvisioningState) -> bool| -> Vec<String> {
        entries
            .iter()
            .filter(|entry| wanted(entry.state))
            .map(|entry| entry.site.clone())
            .collect()
    };
    let incomplete = sites_in(&|state| {
        !matches!(
            state,
            ProvisioningState::Provisioned | ProvisioningState::RemovalPending
        )
    });
    let conflicts = sites_in(&|state| state == ProvisioningState::Conflict);
    let removal_pending = sites_in(&|state| state == ProvisioningState::RemovalPending);
    let (ready, reason, message) = if targets == 0 {
        (
            false,
            "NoSite",
            "no site may host this tenant's classifications".to_owned(),
        )
    } else if incomplete.is_empty() {
        (
            true,
            "Provisioned",
            format!("provisioned on {targets} sites"),
        )
    } else {
        (
            false,
            "SitesPending",
            "some sites are not provisioned; see status.sites".to_owned(),
        )
    };
    let ready = condition(
        existing,
        ConditionType::Ready,
        ready,
        reason,
        message,
        generation,
    );
    let (degraded, reason, message) =
        degradation(&conflicts, missing, &incomplete, &removal_pending);
    let degraded = condition(
        existing,
        ConditionType::Degraded,
        degraded,
        reason,
        message,
        generation,
    );
    let status = TenantStatus {
        conditions: vec![ready, degraded],
        observed_generation: generation,
        sites: entries,
    };
    (status, incomplete.is_empty())
}

/// `Degraded`: a conflict first (someone else's namespace), then classifications named but
/// missing, then sites not provisioned, then removals awaiting a person's confirmation.
fn degradation(
    conflicts: &[String],
    missing: &[String],
    incomplete: &[String],
    removal_pending: &[String],
) -> (bool, &'static str, String) {
    if !conflicts.is_empty() {
        (
            true,
            "NamespaceConflict",
            format!(
                "a namespace this tenant needs belongs to someone else on {}; nothing was written there (see status.sites)",
                conflicts.join(", ")
            ),
        )
    } else if !missing.is_empty() {
        (
            true,
            CLASSIFICATION_MISSING,
            format!(
                "{} names no DataClassification (deleted?): the namespaces keep their labels and nothing is removed, but admission judges workloads there against a classification it does not know; restore it or change the Tenant",
                missing.join(" and ")
            ),
        )
    } else if !incomplete.is_empty() {
        (
            true,
            "SitesPending",
            format!("not provisioned on {}", incomplete.join(", ")),
        )
    } else if !removal_pending.is_empty() {
        (
            true,
            "RemovalPending",
            format!(
                "policy no longer allows {}; the namespaces are kept until spec.confirmRemovalFrom names them",
                removal_pending.join(", ")
            ),
        )
    } else {
        (
            false,
            "AllSitesProvisioned",
            "every site is provisioned".to_owned(),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;
    use soberana_core::placement::Objects;

    fn entry(site: &str, state: ProvisioningState) -> TenantSiteStatus {
        TenantSiteStatus {
            site: site.to_owned(),
            state,
            message: None,
        }
    }

    fn reason(status: &TenantStatus, type_: ConditionType) -> (String, String) {
        let found = status
            .conditions
            .iter()
            .find(|condition| type_.is(condition))
            .unwrap();
        (found.status.clone(), found.reason.clone())
    }

    #[test]
    fn every_site_provisioned_is_ready_and_complete() {
        let entries = vec![
            entry("national", ProvisioningState::Provisioned),
            entry("state-dc", ProvisioningState::Provisioned),
        ];
        let (status, complete) = reported_status(&[], entries, 2, &[], Some(3));
        assert!(complete);
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(
            reason(&status, ConditionType::Ready),
            ("True".to_owned(), "Provisioned".to_owned())
        );
        assert_eq!(
            reason(&status, ConditionType::Degraded),
            ("False".to_owned(), "AllSitesProvisioned".to_owned())
        );
    }

    #[test]
    fn a_deleted_ceiling_is_reported_degraded_naming_it_and_the_tenant_stays_ready() {
        let spec: TenantSpec = serde_json::from_value(serde_json::json!({
            "displayName": "Health", "shortCode": "minsa", "highestClassification": "secret",
            "defaultClassification": "public",
            "environments": [{"name": "prod"}],
            "quota": {"cpuMillicores": 1, "memoryMebibytes": 1}
        }))
        .unwrap();
        let public: DataClassification = serde_json::from_value(serde_json::json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification",
            "metadata": {"name": "public"}, "spec": {"rank": 0, "legalBasis": "none"}
        }))
        .unwrap();
        let missing = missing_classifications(&spec, std::slice::from_ref(&public));
        assert_eq!(missing, ["spec.highestClassification \"secret\""]);
        let entries = vec![entry("state-dc", ProvisioningState::Provisioned)];
        let (status, complete) = reported_status(&[], entries, 1, &missing, None);
        assert!(complete, "nothing to retry: only a person can restore it");
        assert_eq!(
            reason(&status, ConditionType::Ready),
            ("True".to_owned(), "Provisioned".to_owned())
        );
        assert_eq!(
            reason(&status, ConditionType::Degraded),
            ("True".to_owned(), CLASSIFICATION_MISSING.to_owned())
        );
        assert!(
            status.conditions[1]
                .message
                .starts_with("spec.highestClassification \"secret\" names no DataClassification"),
            "{}",
            status.conditions[1].message
        );
        assert!(missing_classifications(&spec, &[]).len() == 2);
    }

    #[test]
    fn a_conflict_is_named_before_anything_pending_and_is_retried() {
        let entries = vec![
            entry("national", ProvisioningState::Pending),
            entry("state-dc", ProvisioningState::Conflict),
        ];
        let (status, complete) = reported_status(&[], entries, 2, &[], None);
        assert!(!complete);
        assert_eq!(
            reason(&status, ConditionType::Degraded),
            ("True".to_owned(), "NamespaceConflict".to_owned())
        );
        let degraded = &status.conditions[1].message;
        assert!(
            degraded.contains("state-dc") && !degraded.contains("national"),
            "{degraded}"
        );
    }

    #[test]
    fn a_removal_awaiting_confirmation_is_degraded_but_complete() {
        let entries = vec![
            entry("public-cloud", ProvisioningState::RemovalPending),
            entry("state-dc", ProvisioningState::Provisioned),
        ];
        let (status, complete) = reported_status(&[], entries, 1, &[], None);
        assert!(complete, "nothing to retry: a person decides");
        assert_eq!(
            reason(&status, ConditionType::Ready),
            ("True".to_owned(), "Provisioned".to_owned())
        );
        assert_eq!(
            reason(&status, ConditionType::Degraded),
            ("True".to_owned(), "RemovalPending".to_owned())
        );
    }

    fn tenant(name: &str, short_code: &str, created: &str) -> Tenant {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant",
            "metadata": {"name": name, "uid": format!("uid-{name}"), "creationTimestamp": created},
            "spec": {"displayName": name, "shortCode": short_code, "highestClassification": "restricted",
                     "environments": [{"name": "prod"}], "quota": {"cpuMillicores": 1, "memoryMebibytes": 1}}
        }))
        .unwrap()
    }

    #[test]
    fn a_reused_short_code_or_no_classification_holds_the_tenant() {
        let earlier = tenant("ministry-of-health", "minsa", "2026-01-01T00:00:00Z");
        let later = tenant("ministerio-de-salud", "minsa", "2026-06-01T00:00:00Z");
        let judged = Snapshot::new(Objects::default());
        let held = admissible(&later, [&earlier, &later], &judged).unwrap_err();
        assert_eq!(held.reason, "NameConflict");
        assert!(
            held.message.contains("ministry-of-health"),
            "{}",
            held.message
        );
        let held = admissible(&earlier, [&earlier, &later], &judged).unwrap_err();
        assert_eq!(
            held.reason, "NoClassifications",
            "the earlier tenant is not in conflict, but nothing can be judged"
        );
    }

    #[test]
    fn no_site_at_all_is_not_ready() {
        let (status, complete) = reported_status(&[], Vec::new(), 0, &[], None);
        assert!(complete);
        assert_eq!(
            reason(&status, ConditionType::Ready),
            ("False".to_owned(), "NoSite".to_owned())
        );
    }

    #[test]
    fn a_site_a_person_took_away_is_left_and_one_policy_took_away_awaits_confirmation() {
        let mut spec = tenant("ministry-of-health", "minsa", "2026-01-01T00:00:00Z").spec;
        spec.allowed_sites = vec!["state-dc".to_owned()];
        let previous: BTreeMap<String, TenantSiteStatus> = ["state-dc", "public-cloud", "deleted"]
            .into_iter()
            .map(|site| (site.to_owned(), entry(site, ProvisioningState::Provisioned)))
            .collect();
        let existing: BTreeSet<String> = ["state-dc".to_owned(), "public-cloud".to_owned()].into();
        let no_policy = Snapshot::new(Objects::default()).unwrap();

        let (leave, awaiting) =
            departures(&spec, &previous, &BTreeSet::new(), &existing, &no_policy);
        assert_eq!(leave, ["public-cloud"], "allowedSites no longer names it");
        assert_eq!(awaiting.len(), 1, "a deleted site leaves nothing to track");
        assert_eq!(awaiting[0].site, "state-dc");
        assert_eq!(awaiting[0].state, ProvisioningState::RemovalPending);
        let message = awaiting[0].message.as_deref().unwrap();
        assert!(message.contains("confirmRemovalFrom"), "{message}");

        spec.confirm_removal_from = vec!["state-dc".to_owned()];
        let (leave, awaiting) =
            departures(&spec, &previous, &BTreeSet::new(), &existing, &no_policy);
        assert_eq!(leave, ["public-cloud", "state-dc"]);
        assert!(awaiting.is_empty());
    }

    #[test]
    fn entries_name_each_site_once_by_name_with_failed_removals_pending() {
        let outcomes = [SiteOutcome {
            site: "state-dc".to_owned(),
            state: ProvisioningState::Provisioned,
            message: None,
        }];
        let failed = [("public-cloud".to_owned(), "connection refused".to_owned())];
        let awaiting = [entry("national", ProvisioningState::RemovalPending)];
        let entries = site_entries(&outcomes, &failed, &awaiting);
        let sites: Vec<_> = entries
            .iter()
            .map(|entry| (entry.site.as_str(), entry.state))
            .collect();
        assert_eq!(
            sites,
            [
                ("national", ProvisioningState::RemovalPending),
                ("public-cloud", ProvisioningState::Pending),
                ("state-dc", ProvisioningState::Provisioned),
            ]
        );
        assert_eq!(
            entries[1].message.as_deref(),
            Some("removal pending: connection refused")
        );
    }
}
