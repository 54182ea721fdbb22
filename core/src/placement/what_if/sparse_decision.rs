//! A decision written only where what-if looks. `judge` decides with reason codes in
//! microseconds; writing every rejected site's sentences is most of `evaluate`'s time, and
//! what-if needs the sentences of few sites: those a workload runs on (whether it must leave
//! them, and why) and those whose eligibility the change flips (what it loses or gains, and why).
//! The sentences are the ones `render` writes, by the same filters.

use std::collections::BTreeSet;

use crate::placement::compiled::Judgement;
use crate::placement::render::{Detail, render_with};
use crate::placement::{Decision, Snapshot};
use crate::resources::workload::Workload;

/// `judgement` as a `Decision`: every eligible site (name and total, no criteria), the chosen
/// sites, the spread and why it is unplaceable, and of the rejected sites only those in `sites`,
/// with every reason.
pub fn sparse_decision(
    snapshot: &Snapshot,
    workload: &Workload,
    judgement: &Judgement<'_>,
    sites: &BTreeSet<&str>,
) -> Decision {
    render_with(snapshot, workload, judgement, Detail::Sites(sites))
}

/// The names of the sites `judgement` finds eligible.
pub fn eligible_names<'s>(snapshot: &'s Snapshot, judgement: &Judgement<'_>) -> BTreeSet<&'s str> {
    judgement
        .eligible
        .iter()
        .map(|ranked| snapshot.sites()[ranked.site].name.as_str())
        .collect()
}
