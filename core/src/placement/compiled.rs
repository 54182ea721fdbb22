//! The compiled engine. What depends only on the policy and the sites is judged once, when the
//! snapshot is built: each classification on each site (the reasons and their codes), each
//! tenant's allowed sites and each rule's excluded and mismatched sites (as site sets), and each
//! site's readiness, taints, free capacity, offered availability and workload-independent scores
//! (as compact arrays). Per workload only what depends on it is left: its ceiling, target,
//! tolerations, capacity demand and matching rules, combined site by site into reason codes.
//! Sentences are not written here: `render` writes them, with the same filters that define them.

use std::collections::BTreeMap;

use crate::resources::capacity::Capacity;
use crate::resources::tenant::TenantSpec;
use crate::resources::workload::Workload;

use super::decision::Unplaceable;
use super::filters::classification_requirements;
use super::reason::{Reason, ReasonCode, ReasonCodes};
use super::resolve::{Referenced, rules_for};
use super::rules::{EffectiveSpread, effective_preferences, effective_spread};
use super::score;
use super::site_set::SiteSet;
use super::snapshot::{PreparedClassification, PreparedRule, PreparedSite, Snapshot};
use super::{EvaluationError, find_site, spread};

/// A classification judged on every site, in the snapshot's site order.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClassificationOnSites {
    /// Every failed requirement, per site; empty where the site meets the classification.
    pub reasons: Vec<Vec<Reason>>,
    pub codes: Vec<ReasonCodes>,
}

/// A rule's site constraints as site sets.
#[derive(Clone, Debug)]
struct RuleSites {
    excluded: SiteSet,
    selector_mismatch: SiteSet,
}

/// Everything judged once per snapshot.
#[derive(Clone, Debug, Default)]
pub(crate) struct Compiled {
    pub classifications: BTreeMap<String, ClassificationOnSites>,
    tenant_sites: BTreeMap<String, SiteSet>,
    /// Aligned with the snapshot's rules.
    rules: Vec<RuleSites>,
    /// Codes every workload gets on a site whatever it is: not ready; tainted (tolerations are
    /// checked per workload, on tainted sites only).
    site_codes: Vec<ReasonCodes>,
    offered_ppm: Vec<u32>,
    free: Vec<Capacity>,
    /// Sovereignty, cost and availability scores, which depend on the site alone.
    base_scores: Vec<[u32; 3]>,
}

impl Compiled {
    pub(crate) fn new(
        sites: &[PreparedSite],
        classifications: &BTreeMap<String, PreparedClassification>,
        tenants: &BTreeMap<String, TenantSpec>,
        rules: &[PreparedRule],
    ) -> Self {
        let count = sites.len();
        let classifications = classifications
            .iter()
            .map(|(name, classification)| {
                (name.clone(), judge_classification(classification, sites))
            })
            .collect();
        let tenant_sites = tenants
            .iter()
            .map(|(name, tenant)| {
                let allowed = &tenant.allowed_sites;
                let set = SiteSet::from_fn(count, |index| {
                    allowed.is_empty() || allowed.contains(&sites[index].name)
                });
                (name.clone(), set)
            })
            .collect();
        let rules = rules
            .iter()
            .map(|rule| {
                let constraints = &rule.spec.constraints;
                RuleSites {
                    excluded: SiteSet::from_fn(count, |index| {
                        constraints.excluded_sites.contains(&sites[index].name)
                    }),
                    selector_mismatch: SiteSet::from_fn(count, |index| {
                        constraints
                            .site_selector
                            .iter()
                            .any(|(key, value)| sites[index].labels.get(key) != Some(value))
                    }),
                }
            })
            .collect();
        Self {
            classifications,
            tenant_sites,
            rules,
            site_codes: sites.iter().map(site_codes).collect(),
            offered_ppm: sites
                .iter()
                .map(|site| site.offered_availability.parts_per_million())
                .collect(),
            free: sites.iter().map(|site| site.free).collect(),
            base_scores: sites.iter().map(score::base_scores).collect(),
        }
    }
}

fn judge_classification(
    classification: &PreparedClassification,
    sites: &[PreparedSite],
) -> ClassificationOnSites {
    let reasons: Vec<Vec<Reason>> = sites
        .iter()
        .map(|site| {
            let mut reasons = Vec::new();
            classification_requirements(classification, site, &mut reasons);
            reasons
        })
        .collect();
    let codes = reasons
        .iter()
        .map(|reasons| reasons.iter().map(|reason| reason.code).collect())
        .collect();
    ClassificationOnSites { reasons, codes }
}

fn site_codes(site: &PreparedSite) -> ReasonCodes {
    let mut codes = ReasonCodes::NONE;
    if site.ready == Some(false) {
        codes = codes.with(ReasonCode::SiteNotReady);
    }
    if !site.spec.taints.is_empty() {
        codes = codes.with(ReasonCode::SiteTainted);
    }
    codes
}

/// A site that may host the workload, with its total score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RankedSite {
    /// Index in the snapshot's sites (by name).
    pub site: usize,
    pub total: u32,
}

/// A site that may not, with the code of every reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejectedSite {
    pub site: usize,
    pub codes: ReasonCodes,
}

/// The engine's decision on one workload with its reasons structured: the eligible sites with
/// their scores, the rejected ones with their reason codes, and the chosen ones. `render` turns
/// it into the explained `Decision`.
#[derive(Debug)]
pub struct Judgement<'s> {
    pub(crate) referenced: Referenced<'s>,
    pub(crate) rules: Vec<&'s PreparedRule>,
    pub(crate) spread: EffectiveSpread,
    /// Best first; ties by name.
    pub eligible: Vec<RankedSite>,
    /// By name.
    pub rejected: Vec<RejectedSite>,
    /// Best first; empty when unplaceable.
    pub chosen: Vec<usize>,
    pub unplaceable: Option<Unplaceable>,
}

/// Judges `workload` on every site of `snapshot`.
pub fn judge<'s>(
    snapshot: &'s Snapshot,
    workload: &Workload,
) -> Result<Judgement<'s>, EvaluationError> {
    let referenced = Referenced::resolve(snapshot, workload)?;
    let rules = rules_for(snapshot, workload);
    let compiled = &snapshot.compiled;
    let spec = &workload.spec;
    let preferences = effective_preferences(&rules);
    let data_location = spec.data_location.as_ref();
    let data_site = data_location
        .and_then(|location| location.site.as_deref())
        .and_then(|name| find_site(snapshot, name));
    let check = WorkloadChecks::new(compiled, &referenced, workload, &rules);
    let mut eligible = Vec::new();
    let mut rejected = Vec::new();
    for (index, site) in snapshot.sites.iter().enumerate() {
        let codes = check.codes(index, site);
        if !codes.is_empty() {
            rejected.push(RejectedSite { site: index, codes });
            continue;
        }
        let total = match data_location {
            None => {
                let [sovereignty, cost, availability] = compiled.base_scores[index];
                preferences.sovereignty * sovereignty
                    + preferences.cost * cost
                    + preferences.availability * availability
            }
            Some(location) => score::total(site, &preferences, Some(location), data_site),
        };
        eligible.push(RankedSite { site: index, total });
    }
    eligible.sort_by(|left, right| {
        right
            .total
            .cmp(&left.total)
            .then(left.site.cmp(&right.site))
    });
    let spread = effective_spread(spec.spread.as_ref(), &rules);
    let (chosen, unplaceable) = choose(snapshot, &eligible, &spread);
    Ok(Judgement {
        referenced,
        rules,
        spread,
        eligible,
        rejected,
        chosen,
        unplaceable,
    })
}

/// The sites chosen among the eligible ones, or why none can be.
fn choose(
    snapshot: &Snapshot,
    eligible: &[RankedSite],
    spread: &EffectiveSpread,
) -> (Vec<usize>, Option<Unplaceable>) {
    let sites = snapshot.sites.len();
    if let Some(unplaceable) = spread::shortfall(spread, eligible.len(), None, sites) {
        return (Vec::new(), Some(unplaceable));
    }
    let ranked = eligible
        .iter()
        .map(|ranked| (ranked.site, &snapshot.sites[ranked.site]));
    let chosen: Vec<usize> = spread::select(ranked, spread, |(_, site)| site)
        .into_iter()
        .map(|(index, _)| index)
        .collect();
    match spread::shortfall(spread, eligible.len(), Some(chosen.len()), sites) {
        Some(unplaceable) => (Vec::new(), Some(unplaceable)),
        None => (chosen, None),
    }
}

/// What is checked per site for one workload, set up once per workload.
struct WorkloadChecks<'a> {
    /// The tenant ceiling, when the workload is above it: every site gets it.
    everywhere: ReasonCodes,
    classification: &'a [ReasonCodes],
    site_codes: &'a [ReasonCodes],
    target_ppm: Option<u32>,
    offered_ppm: &'a [u32],
    tenant_sites: Option<&'a SiteSet>,
    rules: Vec<&'a RuleSites>,
    free: &'a [Capacity],
    demand: Capacity,
    tolerations: &'a [String],
}

impl<'a> WorkloadChecks<'a> {
    fn new(
        compiled: &'a Compiled,
        referenced: &Referenced<'_>,
        workload: &'a Workload,
        rules: &[&PreparedRule],
    ) -> Self {
        let spec = &workload.spec;
        let above_ceiling = referenced.classification.spec.rank > referenced.ceiling.spec.rank;
        Self {
            everywhere: if above_ceiling {
                ReasonCodes::of(ReasonCode::ClassificationAboveTenantCeiling)
            } else {
                ReasonCodes::NONE
            },
            classification: compiled
                .classifications
                .get(&referenced.classification.name)
                .map_or(&[], |judged| judged.codes.as_slice()),
            site_codes: &compiled.site_codes,
            target_ppm: referenced
                .availability_target
                .map(|target| target.parts_per_million()),
            offered_ppm: &compiled.offered_ppm,
            tenant_sites: compiled.tenant_sites.get(&spec.tenant),
            rules: rules
                .iter()
                .filter_map(|rule| compiled.rules.get(rule.index))
                .collect(),
            free: &compiled.free,
            demand: spec.resources.times(spec.replicas),
            tolerations: &spec.tolerations,
        }
    }

    /// The codes of every reason `site` (at `index`) may not host the workload.
    fn codes(&self, index: usize, site: &PreparedSite) -> ReasonCodes {
        let mut codes = self.everywhere.union(self.classification[index]);
        let fixed = self.site_codes[index];
        if fixed.contains(ReasonCode::SiteNotReady) {
            codes = codes.with(ReasonCode::SiteNotReady);
        }
        if fixed.contains(ReasonCode::SiteTainted)
            && site
                .spec
                .taints
                .iter()
                .any(|taint| !self.tolerations.contains(&taint.key))
        {
            codes = codes.with(ReasonCode::SiteTainted);
        }
        if self
            .target_ppm
            .is_some_and(|target| self.offered_ppm[index] < target)
        {
            codes = codes.with(ReasonCode::AvailabilityBelowWorkloadTarget);
        }
        if self
            .tenant_sites
            .is_some_and(|allowed| !allowed.contains(index))
        {
            codes = codes.with(ReasonCode::SiteNotAllowedForTenant);
        }
        for rule in &self.rules {
            if rule.excluded.contains(index) {
                codes = codes.with(ReasonCode::ExcludedByRule);
            }
            if rule.selector_mismatch.contains(index) {
                codes = codes.with(ReasonCode::SiteSelectorMismatch);
            }
        }
        if !self.free[index].holds(self.demand) {
            codes = codes.with(ReasonCode::InsufficientCapacity);
        }
        codes
    }
}
