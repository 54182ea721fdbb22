//! Failed authentications, counted per client address: a client that keeps sending bad tokens
//! gets refused without another TokenReview once it passes the limit, until its window ends, so
//! guessing tokens cannot load the management cluster's API server. Time is passed in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed authentications allowed per address and window before it is refused outright.
pub const DEFAULT_LIMIT: u32 = 20;
/// How long a window lasts.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at most; the oldest windows are dropped first beyond it.
const MAX_ADDRESSES: usize = 10_000;

/// Failures per address in the current window.
#[derive(Debug)]
pub struct AuthFailures {
    limit: u32,
    window: Duration,
    counts: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Default for AuthFailures {
    fn default() -> Self {
        Self::new(DEFAULT_LIMIT, DEFAULT_WINDOW)
    }
}

impl AuthFailures {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// `None` if `address` may try to authenticate at `now`; else how long until it may.
    pub fn refused_for(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let counts = self.lock();
        let (started, failures) = counts.get(&address)?;
        let ends = *started + self.window;
        (*failures >= self.limit && now < ends).then(|| ends - now)
    }

    /// Counts a failed authentication of `address` at `now`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        let mut counts = self.lock();
        if counts.len() >= MAX_ADDRESSES && !counts.contains_key(&address) {
            let window = self.window;
            counts.retain(|_, (started, _)| now < *started + window);
        }
        let entry = counts.entry(address).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// The limit, for messages.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The window, for messages.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (Instant, u32)>> {
        soberana_runtime::locking::lock(&self.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_past_the_limit_is_refused_until_its_window_ends() {
        let failures = AuthFailures::new(3, Duration::from_secs(60));
        let guesser: IpAddr = [203, 0, 113, 7].into();
        let neighbour: IpAddr = [203, 0, 113, 8].into();
        let start = Instant::now();
        for second in 0..3 {
            assert_eq!(failures.refused_for(guesser, start), None);
            failures.failed(guesser, start + Duration::from_secs(second));
        }
        assert_eq!(
            failures.refused_for(guesser, start + Duration::from_secs(10)),
            Some(Duration::from_secs(50))
        );
        assert_eq!(failures.refused_for(neighbour, start), None, "per address");
        assert_eq!(
            failures.refused_for(guesser, start + Duration::from_secs(60)),
            None,
            "a new window"
        );
        failures.failed(guesser, start + Duration::from_secs(61));
        assert_eq!(
            failures.refused_for(guesser, start + Duration::from_secs(62)),
            None,
            "counting starts again"
        );
    }
}
