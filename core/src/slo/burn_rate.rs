//! The multi-window, multi-burn-rate alert policy of the Google SRE workbook ("Alerting on
//! SLOs", table 5-8) for a 30-day period: each alert needs both a long window (the budget really
//! is burning) and a short one (it still is) above the same burn rate.

use super::window::PromDuration;

/// Who is told: a person now, or a ticket for working hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Page,
    Ticket,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Ticket => "ticket",
        }
    }
}

/// One condition: the error ratio over both windows exceeds `factor` times the error budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurnRateWindow {
    pub severity: Severity,
    /// How many times faster than "exactly spent at the end of the period".
    pub factor: f64,
    pub long: PromDuration,
    pub short: PromDuration,
}

/// Page at 14.4× over 1h and 5m (2 % of the budget in an hour) or 6× over 6h and 30m (5 % in six
/// hours); ticket at 3× over 1d and 2h (10 % in a day) or 1× over 3d and 6h (10 % in three days).
pub const POLICY: [BurnRateWindow; 4] = [
    BurnRateWindow {
        severity: Severity::Page,
        factor: 14.4,
        long: PromDuration::hours(1),
        short: PromDuration::minutes(5),
    },
    BurnRateWindow {
        severity: Severity::Page,
        factor: 6.0,
        long: PromDuration::hours(6),
        short: PromDuration::minutes(30),
    },
    BurnRateWindow {
        severity: Severity::Ticket,
        factor: 3.0,
        long: PromDuration::days(1),
        short: PromDuration::hours(2),
    },
    BurnRateWindow {
        severity: Severity::Ticket,
        factor: 1.0,
        long: PromDuration::days(3),
        short: PromDuration::hours(6),
    },
];

/// The conditions of one severity.
pub fn windows_of(severity: Severity) -> impl Iterator<Item = &'static BurnRateWindow> {
    POLICY
        .iter()
        .filter(move |window| window.severity == severity)
}

#[cfg(test)]
mod tests {
    use super::super::window::WINDOWS;
    use super::*;

    #[test]
    fn every_window_an_alert_reads_is_recorded() {
        for condition in POLICY {
            assert!(WINDOWS.contains(&condition.long), "{condition:?}");
            assert!(WINDOWS.contains(&condition.short), "{condition:?}");
            assert!(condition.short < condition.long, "{condition:?}");
        }
    }

    #[test]
    fn each_severity_has_a_fast_and_a_slow_condition() {
        for severity in [Severity::Page, Severity::Ticket] {
            let factors: Vec<f64> = windows_of(severity).map(|window| window.factor).collect();
            assert_eq!(factors.len(), 2, "{severity:?}");
        }
    }
}
