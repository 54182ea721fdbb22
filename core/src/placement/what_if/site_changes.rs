//! Why each site's verdict on a workload changed: the reasons a change lifts and the ones it adds,
//! site by site. Reasons are compared by what they state (code, source and the facts compared),
//! not by their sentence, so a reworded legal basis alone is no change.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::placement::{Decision, Reason};

/// Whether a site could host the workload.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Eligible,
    Rejected,
    /// The site is not defined (before: the proposal adds it).
    Absent,
}

/// One site whose reasons for a workload differ before and after the change.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SiteChange {
    /// The Site.
    pub site: String,
    pub before: Verdict,
    pub after: Verdict,
    /// Reasons that applied before and no longer do.
    pub lifted: Vec<Reason>,
    /// Reasons that apply only after the change.
    pub added: Vec<Reason>,
}

/// Every site whose verdict or reasons differ between `before` and `after`, by site name.
pub fn site_changes(before: &Decision, after: &Decision) -> Vec<SiteChange> {
    if before.eligible == after.eligible && before.rejected == after.rejected {
        return Vec::new();
    }
    let before = verdicts(before);
    let after = verdicts(after);
    let sites: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    let absent = (Verdict::Absent, &[][..]);
    sites
        .into_iter()
        .filter_map(|site| {
            let (before_verdict, before_reasons) = before.get(site).copied().unwrap_or(absent);
            let (after_verdict, after_reasons) = after.get(site).copied().unwrap_or(absent);
            let lifted = missing_from(before_reasons, after_reasons);
            let added = missing_from(after_reasons, before_reasons);
            (before_verdict != after_verdict || !lifted.is_empty() || !added.is_empty()).then(
                || SiteChange {
                    site: site.to_owned(),
                    before: before_verdict,
                    after: after_verdict,
                    lifted,
                    added,
                },
            )
        })
        .collect()
}

/// Each site the decision judged, with its verdict and reasons.
fn verdicts(decision: &Decision) -> BTreeMap<&str, (Verdict, &[Reason])> {
    let eligible = decision
        .eligible_sites()
        .map(|site| (site, (Verdict::Eligible, &[][..])));
    let rejected = decision.rejected.iter().map(|rejection| {
        (
            rejection.site.as_str(),
            (Verdict::Rejected, rejection.reasons.as_slice()),
        )
    });
    eligible.chain(rejected).collect()
}

/// The reasons of `these` that `those` does not state.
fn missing_from(these: &[Reason], those: &[Reason]) -> Vec<Reason> {
    these
        .iter()
        .filter(|reason| !those.iter().any(|other| same_statement(reason, other)))
        .cloned()
        .collect()
}

fn same_statement(left: &Reason, right: &Reason) -> bool {
    left.code == right.code && left.source == right.source && left.facts == right.facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::ReasonCode;
    use crate::placement::decision::{Outcome, RequiredSites, SiteRejection, SiteScore};

    fn reason(code: ReasonCode, required: &str, message: &str) -> Reason {
        Reason::new(
            code,
            required,
            "none",
            "DataClassification/internal",
            message.to_owned(),
        )
    }

    fn decision(eligible: &[&str], rejected: Vec<(&str, Vec<Reason>)>) -> Decision {
        Decision {
            workload: "ns/w".to_owned(),
            outcome: Outcome::Placed,
            chosen_sites: Vec::new(),
            required_sites: RequiredSites {
                minimum: 1,
                maximum: 1,
                across: "Sites".to_owned(),
            },
            eligible: eligible
                .iter()
                .map(|site| SiteScore {
                    site: (*site).to_owned(),
                    total: 0,
                    criteria: Vec::new(),
                })
                .collect(),
            rejected: rejected
                .into_iter()
                .map(|(site, reasons)| SiteRejection {
                    site: site.to_owned(),
                    reasons,
                })
                .collect(),
            matched_rules: Vec::new(),
            unplaceable: None,
        }
    }

    #[test]
    fn lost_and_gained_sites_and_changed_reasons_are_listed_and_a_reworded_reason_is_not() {
        let certification = reason(ReasonCode::CertificationMissing, "ISO27001", "old words");
        let reworded = reason(ReasonCode::CertificationMissing, "ISO27001", "new words");
        let transit = reason(ReasonCode::EncryptionInTransitMissing, "encrypted", "x");
        let before = decision(
            &["a", "b"],
            vec![
                ("c", vec![certification.clone()]),
                ("d", vec![transit.clone()]),
            ],
        );
        let after = decision(
            &["b", "d", "e"],
            vec![("a", vec![certification.clone()]), ("c", vec![reworded])],
        );
        let changes = site_changes(&before, &after);
        let summary: Vec<(&str, Verdict, Verdict, usize, usize)> = changes
            .iter()
            .map(|change| {
                (
                    change.site.as_str(),
                    change.before,
                    change.after,
                    change.lifted.len(),
                    change.added.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a", Verdict::Eligible, Verdict::Rejected, 0, 1),
                ("d", Verdict::Rejected, Verdict::Eligible, 1, 0),
                ("e", Verdict::Absent, Verdict::Eligible, 0, 0),
            ]
        );
        assert_eq!(changes[0].added, [certification]);
        assert_eq!(changes[1].lifted, [transit]);
        assert!(site_changes(&before, &before).is_empty());
    }
}
