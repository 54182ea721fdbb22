//! The windows error ratios are recorded over, and Prometheus durations (`30s`, `5m`, `1h`, `3d`)
//! as the rule file writes them and as options are given.

use std::fmt;

/// A duration in whole seconds, written the way Prometheus reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(u64);

impl PromDuration {
    pub const fn seconds(seconds: u64) -> Self {
        Self(seconds)
    }

    pub const fn minutes(minutes: u64) -> Self {
        Self(minutes * 60)
    }

    pub const fn hours(hours: u64) -> Self {
        Self(hours * 3600)
    }

    pub const fn days(days: u64) -> Self {
        Self(days * 86_400)
    }

    pub fn as_seconds(self) -> u64 {
        self.0
    }

    /// Parses `90s`, `5m`, `1h`, `3d` (one unit); `None` when it is not one of those.
    pub fn parse(text: &str) -> Option<Self> {
        let unit = text.chars().last()?;
        let number: u64 = text.get(..text.len() - 1)?.parse().ok()?;
        let scale = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        number.checked_mul(scale).map(Self)
    }
}

impl fmt::Display for PromDuration {
    /// The largest unit that divides the duration exactly: `1d`, `6h`, `30m`, `45s`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0;
        for (unit, scale) in [("d", 86_400), ("h", 3600), ("m", 60)] {
            if seconds >= scale && seconds.is_multiple_of(scale) {
                return write!(formatter, "{}{unit}", seconds / scale);
            }
        }
        write!(formatter, "{seconds}s")
    }
}

/// The SLO period: error budgets are spent over 30 days.
pub const PERIOD: PromDuration = PromDuration::days(30);

/// Every window an error ratio is recorded over: the short and long windows of the burn-rate
/// alerts, and the period itself.
pub const WINDOWS: [PromDuration; 8] = [
    PromDuration::minutes(5),
    PromDuration::minutes(30),
    PromDuration::hours(1),
    PromDuration::hours(2),
    PromDuration::hours(6),
    PromDuration::days(1),
    PromDuration::days(3),
    PERIOD,
];

/// The recording rule holding an error ratio over `window`, as Sloth names its own
/// (`slo:sli_error:ratio_rate5m`), in Soberana's namespace.
pub fn error_ratio_record(window: PromDuration) -> String {
    format!("soberana:slo_error:ratio_rate{window}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_in_their_largest_exact_unit_and_parse_back() {
        let printed: Vec<String> = WINDOWS.iter().map(ToString::to_string).collect();
        assert_eq!(
            printed,
            ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"].map(String::from)
        );
        for window in WINDOWS {
            assert_eq!(PromDuration::parse(&window.to_string()), Some(window));
        }
        assert_eq!(PromDuration::seconds(90).to_string(), "90s");
        assert_eq!(PromDuration::parse("90s"), Some(PromDuration::seconds(90)));
    }

    #[test]
    fn what_is_not_a_duration_is_refused() {
        for text in ["", "5", "m", "5w", "-5m", "1.5h", "5 m"] {
            assert_eq!(PromDuration::parse(text), None, "{text}");
        }
    }
}
