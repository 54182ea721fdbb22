//! One line of an SLA report: measured availability against the target, and what that means for
//! the error budget (the downtime the target allows over the window).

use serde::Serialize;

/// What the availability is of: a site, or a tenant's workload (on one site, or overall).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// `site` or `workload`.
    pub kind: &'static str,
    pub tenant: String,
    pub workload: String,
    /// The site; empty for a workload over all its sites.
    pub site: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRow {
    #[serde(flatten)]
    pub subject: Subject,
    /// Measured availability, 0–1.
    pub availability: f64,
    /// The objective, 0–1, when the subject has one.
    pub target: Option<f64>,
    /// Minutes of unavailability over the window.
    pub downtime_minutes: f64,
    /// Minutes of unavailability the target allows over the window.
    pub budget_minutes: Option<f64>,
    /// Share of the error budget spent, in percent (above 100 when the target is missed).
    pub budget_spent_percent: Option<f64>,
    /// Minutes of the budget left (negative when overspent).
    pub budget_remaining_minutes: Option<f64>,
}

impl ReportRow {
    /// The row for `subject`, measured at `availability` over `window_seconds`.
    pub fn new(
        subject: Subject,
        availability: f64,
        target: Option<f64>,
        window_seconds: i64,
    ) -> Self {
        #[allow(
            clippy::cast_precision_loss,
            reason = "a window's seconds fit in f64 exactly"
        )]
        let minutes = window_seconds as f64 / 60.0;
        let availability = availability.clamp(0.0, 1.0);
        let downtime = (1.0 - availability) * minutes;
        let budget = target.map(|target| (1.0 - target.clamp(0.0, 1.0)) * minutes);
        Self {
            subject,
            availability,
            target,
            downtime_minutes: downtime,
            budget_minutes: budget,
            // A 100 % target has no budget: any downtime overspends it without bound.
            budget_spent_percent: budget
                .and_then(|budget| (budget > 0.0).then_some(downtime / budget * 100.0)),
            budget_remaining_minutes: budget.map(|budget| budget - downtime),
        }
    }

    /// Percent of the budget left, when there is one.
    pub fn budget_remaining_percent(&self) -> Option<f64> {
        self.budget_spent_percent.map(|spent| 100.0 - spent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Subject {
        Subject {
            kind: "site",
            tenant: String::new(),
            workload: String::new(),
            site: "state-dc".to_owned(),
        }
    }

    #[test]
    fn the_budget_of_a_month_at_99_9_is_43_minutes_and_half_of_it_is_spent_at_99_95() {
        let thirty_days = 30 * 24 * 3600;
        let row = ReportRow::new(site(), 0.9995, Some(0.999), thirty_days);
        let near =
            |left: Option<f64>, right: f64| left.is_some_and(|left| (left - right).abs() < 1e-6);
        assert!(near(row.budget_minutes, 43.2), "{row:?}");
        assert!((row.downtime_minutes - 21.6).abs() < 1e-6, "{row:?}");
        assert!(near(row.budget_spent_percent, 50.0), "{row:?}");
        assert!(near(row.budget_remaining_percent(), 50.0), "{row:?}");
        assert!(near(row.budget_remaining_minutes, 21.6), "{row:?}");
    }

    #[test]
    fn a_missed_target_overspends_and_no_target_means_no_budget() {
        let day = 24 * 3600;
        let missed = ReportRow::new(site(), 0.99, Some(0.999), day);
        assert!(
            missed
                .budget_spent_percent
                .is_some_and(|spent| spent > 100.0)
        );
        assert!(
            missed
                .budget_remaining_minutes
                .is_some_and(|left| left < 0.0)
        );
        let untargeted = ReportRow::new(site(), 0.99, None, day);
        assert_eq!(untargeted.budget_spent_percent, None);
        assert_eq!(untargeted.budget_remaining_minutes, None);
        let perfect = ReportRow::new(site(), 0.99, Some(1.0), day);
        assert_eq!(perfect.budget_spent_percent, None);
    }
}
