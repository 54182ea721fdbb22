//! The window a report covers: the last 30 days, a calendar month, or `--from`/`--to`.

use k8s_openapi::jiff::civil::Date;
use k8s_openapi::jiff::{SignedDuration, Timestamp, ToSpan, tz::TimeZone};

/// A half-open interval of time, at least a minute long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportWindow {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl ReportWindow {
    /// The window from the options: `month` (`2026-11`, in UTC), or `from`/`to` (RFC 3339; `to`
    /// defaults to `now`, `from` to 30 days before `to`).
    pub fn from_options(
        month: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: Timestamp,
    ) -> Result<Self, String> {
        if let Some(month) = month {
            if from.is_some() || to.is_some() {
                return Err("--month cannot be combined with --from/--to".to_owned());
            }
            return calendar_month(month);
        }
        let to = match to {
            Some(text) => timestamp("--to", text)?,
            None => now,
        };
        let from = match from {
            Some(text) => timestamp("--from", text)?,
            None => to
                .checked_sub(SignedDuration::from_hours(30 * 24))
                .map_err(|error| format!("--to {to}: {error}"))?,
        };
        let window = Self { from, to };
        if window.seconds() < 60 {
            return Err(format!(
                "the window from {from} to {to} is shorter than a minute; --from must come before --to"
            ));
        }
        Ok(window)
    }

    pub fn seconds(&self) -> i64 {
        self.to.as_second() - self.from.as_second()
    }
}

fn calendar_month(text: &str) -> Result<ReportWindow, String> {
    let invalid =
        |detail: String| format!("--month {text:?}: {detail} (expected YYYY-MM, e.g. 2026-11)");
    let (year, month) = text
        .split_once('-')
        .ok_or_else(|| invalid("no '-'".to_owned()))?;
    let year: i16 = year.parse().map_err(|_| invalid("bad year".to_owned()))?;
    let month: i8 = month.parse().map_err(|_| invalid("bad month".to_owned()))?;
    let first = Date::new(year, month, 1).map_err(|error| invalid(error.to_string()))?;
    let next = first
        .checked_add(1.month())
        .map_err(|error| invalid(error.to_string()))?;
    let start = |date: Date| {
        date.to_zoned(TimeZone::UTC)
            .map(|zoned| zoned.timestamp())
            .map_err(|error| invalid(error.to_string()))
    };
    Ok(ReportWindow {
        from: start(first)?,
        to: start(next)?,
    })
}

fn timestamp(flag: &str, text: &str) -> Result<Timestamp, String> {
    text.parse().map_err(|error| {
        format!("{flag} {text:?}: not an RFC 3339 time such as 2026-11-01T00:00:00Z ({error})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse()
            .unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn a_calendar_month_runs_from_its_first_day_to_the_next_months() {
        let window =
            ReportWindow::from_options(Some("2026-11"), None, None, at("2027-01-05T00:00:00Z"));
        assert_eq!(
            window,
            Ok(ReportWindow {
                from: at("2026-11-01T00:00:00Z"),
                to: at("2026-12-01T00:00:00Z")
            })
        );
        let december =
            ReportWindow::from_options(Some("2026-12"), None, None, at("2027-01-05T00:00:00Z"));
        assert_eq!(
            december.map(|window| window.to),
            Ok(at("2027-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn the_default_is_the_last_thirty_days() {
        let now = at("2026-12-01T12:00:00Z");
        let window = ReportWindow::from_options(None, None, None, now);
        assert_eq!(
            window,
            Ok(ReportWindow {
                from: at("2026-11-01T12:00:00Z"),
                to: now
            })
        );
    }

    #[test]
    fn bad_windows_are_refused_naming_the_option() {
        let now = at("2026-12-01T12:00:00Z");
        for (month, from, to, expected) in [
            (Some("2026-13"), None, None, "--month \"2026-13\""),
            (Some("november"), None, None, "--month \"november\""),
            (
                Some("2026-11"),
                Some("2026-11-01T00:00:00Z"),
                None,
                "--month cannot be combined",
            ),
            (None, Some("yesterday"), None, "--from \"yesterday\""),
            (
                None,
                Some("2026-12-02T00:00:00Z"),
                None,
                "--from must come before --to",
            ),
        ] {
            let error = ReportWindow::from_options(month, from, to, now).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
