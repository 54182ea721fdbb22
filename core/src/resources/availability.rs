//! Availability as written by people ("99.95", a percentage as a string, since CRDs avoid floats)
//! and as compared by the engine (parts per million).

use std::fmt;

/// The OpenAPI pattern for an availability percentage: 0 to 100 with up to four decimals.
pub const AVAILABILITY_PATTERN: &str = r"^(100(\.0{1,4})?|[0-9]{1,2}(\.[0-9]{1,4})?)$";

/// An availability as parts per million of time (99.95 % is 999 500).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Availability(u32);

impl Availability {
    pub const fn from_parts_per_million(value: u32) -> Self {
        Self(value)
    }

    pub fn parts_per_million(self) -> u32 {
        self.0
    }

    /// Parses a percentage such as `99.95`; `None` when it is not one (the error is the caller's,
    /// who knows which field it came from).
    pub fn parse_percent(text: &str) -> Option<Self> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || whole.len() > 3 || fraction.len() > 4 {
            return None;
        }
        if !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|byte| byte.is_ascii_digit())
        {
            return None;
        }
        let whole: u32 = whole.parse().ok()?;
        let fraction: u32 = format!("{fraction:0<4}").parse().ok()?;
        let value = whole.checked_mul(10_000)?.checked_add(fraction)?;
        (value <= 1_000_000).then_some(Self(value))
    }
}

impl Availability {
    /// The percentage as CRDs write it, without the sign: `99.95`.
    pub fn percent_text(self) -> String {
        let text = self.to_string();
        text.trim_end_matches('%').to_owned()
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 10_000;
        let fraction = self.0 % 10_000;
        if fraction == 0 {
            write!(formatter, "{whole}%")
        } else {
            let digits = format!("{fraction:04}");
            write!(formatter, "{whole}.{}%", digits.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse_to_parts_per_million() {
        assert_eq!(
            Availability::parse_percent("99.95").map(Availability::parts_per_million),
            Some(999_500)
        );
        assert_eq!(
            Availability::parse_percent("100").map(Availability::parts_per_million),
            Some(1_000_000)
        );
        assert_eq!(
            Availability::parse_percent("99.9999").map(Availability::parts_per_million),
            Some(999_999)
        );
        assert_eq!(
            Availability::parse_percent("0").map(Availability::parts_per_million),
            Some(0)
        );
    }

    #[test]
    fn malformed_or_out_of_range_percentages_are_refused() {
        for text in [
            "", ".5", "100.01", "101", "99.99999", "-1", "99,95", "abc", "1e2",
        ] {
            assert_eq!(Availability::parse_percent(text), None, "{text:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["99.95", "100", "99.9", "99.999"] {
            let parsed = Availability::parse_percent(text).unwrap();
            assert_eq!(parsed.to_string(), format!("{text}%"));
        }
    }
}
