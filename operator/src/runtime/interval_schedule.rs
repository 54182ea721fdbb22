//! "Has this site's periodic check come round again?": one clock per site, so that slow checks
//! (drift, residency scans) run on their own interval however often a site is reconciled.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When each site last ran a periodic check.
#[derive(Debug)]
pub struct IntervalSchedule {
    interval: Duration,
    last: Mutex<BTreeMap<String, Instant>>,
}

impl IntervalSchedule {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether `site` is due; if so, records that it runs now.
    pub fn due(&self, site: &str) -> bool {
        let mut last = soberana_runtime::locking::lock(&self.last);
        let now = Instant::now();
        match last.get(site) {
            Some(previous) if now.duration_since(*previous) < self.interval => false,
            _ => {
                last.insert(site.to_owned(), now);
                true
            }
        }
    }

    /// Forgets `site`'s last run, so that its next check runs at once (a failed check, or a
    /// policy change that must be followed by a scan).
    pub fn reset(&self, site: &str) {
        soberana_runtime::locking::lock(&self.last).remove(site);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_is_due_once_per_interval_and_again_after_a_reset() {
        let schedule = IntervalSchedule::new(Duration::from_secs(3600));
        assert!(schedule.due("a"));
        assert!(!schedule.due("a"));
        assert!(schedule.due("b"), "each site has its own clock");
        schedule.reset("a");
        assert!(schedule.due("a"));
    }
}
