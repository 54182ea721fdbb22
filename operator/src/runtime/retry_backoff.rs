//! Exponential backoff per site, for work against a member that keeps answering errors: each
//! consecutive failure doubles the wait before the next attempt, up to a cap, and a success starts
//! over. A wake that comes sooner (a watch event, another trigger) waits for the rest of it, so an
//! erroring member is not called again and again.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use soberana_runtime::locking::lock;

/// The wait after `failures` consecutive failures: `first`, doubled for each failure after the
/// first, never more than `cap` (and nothing before the first failure).
pub fn delay_after(failures: u32, first: Duration, cap: Duration) -> Duration {
    let Some(doublings) = failures.checked_sub(1) else {
        return Duration::ZERO;
    };
    let factor = 2_u32.checked_pow(doublings.min(31)).unwrap_or(u32::MAX);
    first.checked_mul(factor).unwrap_or(cap).min(cap)
}

/// Where one site stands: consecutive failures, and when it may be tried again.
#[derive(Clone, Copy, Debug)]
struct Standing {
    failures: u32,
    next_attempt: Instant,
}

/// Consecutive failures per site and when each may be tried again.
#[derive(Debug)]
pub struct RetryBackoff {
    first: Duration,
    cap: Duration,
    sites: Mutex<BTreeMap<String, Standing>>,
}

impl RetryBackoff {
    /// Waits start at `first` and never exceed `cap`.
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            cap,
            sites: Mutex::new(BTreeMap::new()),
        }
    }

    /// How long `site` must still wait at `now` before it is tried again; `None` when it may be
    /// tried now.
    pub fn remaining(&self, site: &str, now: Instant) -> Option<Duration> {
        let standing = lock(&self.sites).get(site).copied()?;
        let remaining = standing.next_attempt.checked_duration_since(now)?;
        (!remaining.is_zero()).then_some(remaining)
    }

    /// Records a failure on `site` at `now`; returns how long to wait before the next attempt.
    pub fn failed(&self, site: &str, now: Instant) -> Duration {
        let mut sites = lock(&self.sites);
        let failures = sites
            .get(site)
            .map_or(0, |standing| standing.failures)
            .saturating_add(1);
        let wait = delay_after(failures, self.first, self.cap);
        sites.insert(
            site.to_owned(),
            Standing {
                failures,
                next_attempt: now + wait,
            },
        );
        wait
    }

    /// Another failure on `site` at `now`, counted at most once per wait: a pass woken before the
    /// last wait ran out (a watch event, the object's own status write) waits for the rest of it
    /// and does not lengthen the next one. For work that may not be skipped while a site backs off
    /// (a spec change must reach the healthy sites at once), only its retries are spaced out.
    pub fn failed_again(&self, site: &str, now: Instant) -> Duration {
        self.remaining(site, now)
            .unwrap_or_else(|| self.failed(site, now))
    }

    /// `site` answered: the next failure waits `first` again.
    pub fn succeeded(&self, site: &str) {
        lock(&self.sites).remove(site);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_secs(10);
    const CAP: Duration = Duration::from_secs(120);

    #[test]
    fn each_failure_doubles_the_wait_up_to_the_cap() {
        let waits: Vec<u64> = (0..=8)
            .map(|failures| delay_after(failures, FIRST, CAP).as_secs())
            .collect();
        assert_eq!(waits, [0, 10, 20, 40, 80, 120, 120, 120, 120]);
        assert_eq!(delay_after(u32::MAX, FIRST, CAP), CAP);
    }

    #[test]
    fn a_site_that_keeps_failing_waits_longer_each_time_and_a_success_starts_over() {
        let backoff = RetryBackoff::new(FIRST, CAP);
        let start = Instant::now();
        assert_eq!(backoff.remaining("state-dc", start), None);
        assert_eq!(backoff.failed("state-dc", start), FIRST);
        // A wake one second later waits for the rest; another site is not held up.
        let second = start + Duration::from_secs(1);
        assert_eq!(
            backoff.remaining("state-dc", second),
            Some(Duration::from_secs(9))
        );
        assert_eq!(backoff.remaining("national-cloud", second), None);
        let retried = start + FIRST;
        assert_eq!(backoff.remaining("state-dc", retried), None);
        assert_eq!(backoff.failed("state-dc", retried), Duration::from_secs(20));
        assert_eq!(
            backoff.remaining("state-dc", retried + Duration::from_secs(5)),
            Some(Duration::from_secs(15))
        );
        backoff.succeeded("state-dc");
        assert_eq!(backoff.remaining("state-dc", retried), None);
        assert_eq!(backoff.failed("state-dc", retried), FIRST);
    }

    #[test]
    fn a_failure_within_the_wait_keeps_it_and_only_a_failure_after_it_doubles_it() {
        let backoff = RetryBackoff::new(FIRST, CAP);
        let start = Instant::now();
        assert_eq!(backoff.failed_again("tenant/minsa", start), FIRST);
        // Woken by its own status write a moment later, failing again: the same retry time.
        let woken = start + Duration::from_millis(200);
        assert_eq!(
            backoff.failed_again("tenant/minsa", woken),
            FIRST - Duration::from_millis(200)
        );
        let retried = start + FIRST;
        assert_eq!(
            backoff.failed_again("tenant/minsa", retried),
            Duration::from_secs(20)
        );
        backoff.succeeded("tenant/minsa");
        assert_eq!(backoff.failed_again("tenant/minsa", retried), FIRST);
    }

    #[test]
    fn a_pass_retried_whenever_its_wait_ends_against_an_erroring_member_backs_off_to_the_cap() {
        let backoff = RetryBackoff::new(FIRST, CAP);
        let mut now = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..7 {
            let wait = backoff.failed_again("exchange/padron", now);
            waits.push(wait.as_secs());
            now += wait;
        }
        assert_eq!(waits, [10, 20, 40, 80, 120, 120, 120]);
    }

    #[test]
    fn wakes_once_a_second_against_an_erroring_site_call_it_a_handful_of_times_in_ten_minutes() {
        let backoff = RetryBackoff::new(FIRST, CAP);
        let start = Instant::now();
        let mut attempts = 0;
        for second in 0..600 {
            let now = start + Duration::from_secs(second);
            if backoff.remaining("state-dc", now).is_none() {
                attempts += 1;
                backoff.failed("state-dc", now);
            }
        }
        // 0, 10, 30, 70, 150, 270, 390, 510: not 600.
        assert_eq!(attempts, 8);
    }
}
