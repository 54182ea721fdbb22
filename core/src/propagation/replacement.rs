//! Where a placed workload should run now. Placement is sticky: a workload stays on its sites
//! while they remain eligible, so a site that fails and returns does not pull it back (no flapping).
//! It moves when a site has been down longer than the grace period (failover), when a policy
//! change makes a site ineligible, or when its spread needs other sites — and only ever to sites
//! the engine found eligible. With nowhere to go it stays where it is.

use crate::placement::{Decision, Outcome, ReasonCode};

/// How a site the workload runs on is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteHealth {
    Ready,
    /// Not Ready, for less than the workload's grace period.
    DownWithinGrace,
    /// Not Ready for longer than the grace period.
    DownBeyondGrace,
}

/// What to do with the workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replacement {
    /// Not placed yet: run on `sites`.
    Place { sites: Vec<String> },
    /// Stay on `sites`.
    Keep { sites: Vec<String> },
    /// Sites failed beyond the grace period: move from `from` to `to`.
    FailOver {
        from: Vec<String>,
        to: Vec<String>,
        reason: String,
    },
    /// Sites became ineligible or the spread changed: move from `from` to `to`.
    Move {
        from: Vec<String>,
        to: Vec<String>,
        reason: String,
    },
    /// It should leave some sites but no eligible site can take it: it stays on `sites`.
    Stranded { sites: Vec<String>, reason: String },
    /// Not placed, and no site may host it.
    Unplaceable,
}

impl Replacement {
    /// The sites the workload should run on.
    pub fn sites(&self) -> &[String] {
        match self {
            Self::Place { sites } | Self::Keep { sites } | Self::Stranded { sites, .. } => sites,
            Self::FailOver { to, .. } | Self::Move { to, .. } => to,
            Self::Unplaceable => &[],
        }
    }
}

/// Reasons a site keeps a workload already running there: they keep *new* placements away.
const TOLERATED_WHERE_RUNNING: [ReasonCode; 3] = [
    ReasonCode::SiteNotReady,
    ReasonCode::InsufficientCapacity,
    ReasonCode::SiteTainted,
];

/// Decides where the workload runs now, from the sites it runs on (`current`), a fresh engine
/// `decision`, and the health of its sites.
pub fn replace(
    current: &[String],
    decision: &Decision,
    grace_period_seconds: u32,
    health: impl Fn(&str) -> SiteHealth,
) -> Replacement {
    let placed = decision.outcome == Outcome::Placed;
    if current.is_empty() {
        return if placed {
            Replacement::Place {
                sites: decision.chosen_sites.clone(),
            }
        } else {
            Replacement::Unplaceable
        };
    }
    let (failed, ineligible) = troubled_sites(current, decision, health);
    let count = u32::try_from(current.len()).unwrap_or(u32::MAX);
    let spread = &decision.required_sites;
    let spread_changed = count < spread.minimum || count > spread.maximum;
    if failed.is_empty() && ineligible.is_empty() && !spread_changed {
        return Replacement::Keep {
            sites: current.to_vec(),
        };
    }
    let mut reasons = Vec::new();
    if !failed.is_empty() {
        reasons.push(format!(
            "site{} {} {} not been Ready for more than {grace_period_seconds}s",
            if failed.len() == 1 { "" } else { "s" },
            failed.join(", "),
            if failed.len() == 1 { "has" } else { "have" },
        ));
    }
    reasons.extend(ineligible);
    if spread_changed && reasons.is_empty() {
        reasons.push(format!(
            "it runs on {count} sites but needs {} to {}",
            spread.minimum, spread.maximum
        ));
    }
    let reason = reasons.join("; ");
    if !placed {
        let nowhere = decision
            .unplaceable
            .as_ref()
            .map_or_else(String::new, |unplaceable| {
                format!(": {}", unplaceable.message)
            });
        return Replacement::Stranded {
            sites: current.to_vec(),
            reason: format!("{reason}, and no other site may host it{nowhere}"),
        };
    }
    let to = decision.chosen_sites.clone();
    let from: Vec<String> = current
        .iter()
        .filter(|site| !to.contains(site))
        .cloned()
        .collect();
    if failed.is_empty() {
        Replacement::Move { from, to, reason }
    } else {
        Replacement::FailOver { from, to, reason }
    }
}

/// The current sites that force a change: those down beyond the grace period, and those that may
/// no longer host the workload (each with why).
fn troubled_sites(
    current: &[String],
    decision: &Decision,
    health: impl Fn(&str) -> SiteHealth,
) -> (Vec<String>, Vec<String>) {
    let mut failed = Vec::new();
    let mut ineligible = Vec::new();
    for site in current {
        let eligible = decision.eligible_sites().any(|name| name == site);
        let rejection = decision
            .rejected
            .iter()
            .find(|rejection| &rejection.site == site);
        let blocking = rejection.and_then(|rejection| {
            rejection
                .reasons
                .iter()
                .find(|reason| !TOLERATED_WHERE_RUNNING.contains(&reason.code))
        });
        if let Some(reason) = blocking {
            ineligible.push(format!(
                "site {site} may no longer host it: {}",
                reason.message
            ));
        } else if !eligible && rejection.is_none() {
            ineligible.push(format!("site {site} no longer exists"));
        } else if health(site) == SiteHealth::DownBeyondGrace {
            failed.push(site.clone());
        }
    }
    (failed, ineligible)
}
