//! Why a site's verdict on a workload flipped: a site it may no longer use, or one it may use now,
//! with the reasons the change lifts and the ones it adds. Reasons are compared by what they
//! state (code, source and the facts compared), not by their sentence, so a reworded legal basis
//! alone is no change. Sites refused before and after are not listed, whatever reasons they gain.

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

/// One site that the workload may use before the change and not after, or the other way round.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SiteChange {
    /// The Site.
    pub site: String,
    pub before: Verdict,
    pub after: Verdict,
    /// Reasons that refused the site before and no longer do.
    pub lifted: Vec<Reason>,
    /// Reasons that refuse the site only after the change.
    pub added: Vec<Reason>,
}

/// Every site eligible on one side of the change and not on the other, by site name.
pub fn site_changes(before: &Decision, after: &Decision) -> Vec<SiteChange> {
    let eligible_before: BTreeSet<&str> = before.eligible_sites().collect();
    let eligible_after: BTreeSet<&str> = after.eligible_sites().collect();
    if eligible_before == eligible_after {
        return Vec::new();
    }
    let rejected_before = rejections(before);
    let rejected_after = rejections(after);
    eligible_before
        .symmetric_difference(&eligible_after)
        .map(|&site| {
            let (before_verdict, before_reasons) =
                verdict(site, &eligible_before, &rejected_before);
            let (after_verdict, after_reasons) = verdict(site, &eligible_after, &rejected_after);
            SiteChange {
                site: site.to_owned(),
                before: before_verdict,
                after: after_verdict,
                lifted: missing_from(before_reasons, after_reasons),
                added: missing_from(after_reasons, before_reasons),
            }
        })
        .collect()
}

/// The site's verdict on one side of the change, with the reasons refusing it.
fn verdict<'a>(
    site: &str,
    eligible: &BTreeSet<&str>,
    rejected: &BTreeMap<&str, &'a [Reason]>,
) -> (Verdict, &'a [Reason]) {
    if eligible.contains(site) {
        (Verdict::Eligible, &[])
    } else if let Some(reasons) = rejected.get(site) {
        (Verdict::Rejected, reasons)
    } else {
        (Verdict::Absent, &[])
    }
}

fn rejections(decision: &Decision) -> BTreeMap<&str, &[Reason]> {
    decision
        .rejected
        .iter()
        .map(|rejection| (rejection.site.as_str(), rejection.reasons.as_slice()))
        .collect()
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
    fn sites_whose_eligibility_flips_are_listed_with_their_changed_reasons_and_no_others() {
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
            vec![
                ("a", vec![certification.clone(), reworded]),
                ("c", vec![transit.clone()]),
            ],
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
                ("a", Verdict::Eligible, Verdict::Rejected, 0, 2),
                ("d", Verdict::Rejected, Verdict::Eligible, 1, 0),
                ("e", Verdict::Absent, Verdict::Eligible, 0, 0),
            ],
            "c stays refused, for another reason: not listed"
        );
        assert_eq!(changes[1].lifted, [transit]);
        assert!(site_changes(&before, &before).is_empty());
    }
}
