//! Per-caller admission: at most `concurrency` calls at work at once and a token bucket of
//! `rate_per_second` (up to `burst` at once) for each caller, so one agency's tool, looping or
//! hostile, cannot take the API from the others. A caller is known by its bearer token (a hash
//! of it, never the token) or, without one, by its address. Pure: time is passed in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tonic::Status;

use crate::server::rpc_metrics::RpcMetrics;

/// Callers tracked at most; idle ones are dropped first beyond it.
const MAX_CALLERS: usize = 10_000;

/// The limits, per caller.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CallerLimitSettings {
    /// Calls at work at once.
    pub concurrency: u32,
    /// Calls admitted per second, on average.
    pub rate_per_second: f64,
    /// Calls admitted at once after a quiet spell.
    pub burst: u32,
    /// Server streams (watches) open at once.
    pub streams: u32,
    /// How long a server stream lasts before the server ends it (the client resumes).
    pub stream_lifetime: Duration,
}

impl Default for CallerLimitSettings {
    fn default() -> Self {
        Self {
            concurrency: 32,
            rate_per_second: 100.0,
            burst: 200,
            streams: 8,
            stream_lifetime: Duration::from_secs(1800),
        }
    }
}

/// Why a call was refused, for the message and the metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The caller has this many calls at work already.
    Concurrency(u32),
    /// The caller's bucket is empty; a call is admitted again after this long.
    Rate(Duration),
    /// The caller has this many server streams open already.
    Streams(u32),
    /// The client's address failed authentication `limit` times within `window`; it may try
    /// again after `wait`.
    FailedAuthentications {
        limit: u32,
        window: Duration,
        wait: Duration,
    },
}

impl Refusal {
    /// The metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Concurrency(_) => "concurrency",
            Self::Rate(_) => "rate",
            Self::Streams(_) => "streams",
            Self::FailedAuthentications { .. } => "failed_authentications",
        }
    }

    /// The refused call's answer, RESOURCE_EXHAUSTED saying why, counted in
    /// `soberana_api_throttled_total{reason}`: every limit refuses through here, so none goes
    /// uncounted.
    pub fn answer(&self, settings: &CallerLimitSettings, metrics: &RpcMetrics) -> Status {
        metrics.throttled(self.reason());
        Status::resource_exhausted(self.message(settings))
    }

    pub fn message(&self, settings: &CallerLimitSettings) -> String {
        match self {
            Self::Concurrency(at_work) => format!(
                "this caller has {at_work} calls at work, its limit (--caller-concurrency); wait for one to finish"
            ),
            Self::Rate(wait) => format!(
                "this caller passed {} calls per second (burst {}) (--caller-rate, --caller-burst); retry in {} ms",
                settings.rate_per_second,
                settings.burst,
                wait.as_millis().max(1)
            ),
            Self::Streams(open) => format!(
                "this caller has {open} streams open, its limit (--caller-streams); close one first"
            ),
            Self::FailedAuthentications {
                limit,
                window,
                wait,
            } => format!(
                "more than {limit} failed authentications from this address within {} s; try again in {} s",
                window.as_secs(),
                wait.as_secs().max(1)
            ),
        }
    }
}

#[derive(Debug)]
struct Caller {
    at_work: u32,
    tokens: f64,
    refilled: Instant,
}

/// Every caller's state.
#[derive(Debug)]
pub struct CallerLimits {
    settings: CallerLimitSettings,
    callers: Mutex<HashMap<String, Caller>>,
}

/// A call at work; dropping it frees its place.
#[derive(Debug)]
pub struct Admitted {
    limits: Arc<CallerLimits>,
    caller: String,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut callers = self.limits.lock();
        if let Some(caller) = callers.get_mut(&self.caller) {
            caller.at_work = caller.at_work.saturating_sub(1);
        }
    }
}

impl CallerLimits {
    pub fn new(settings: CallerLimitSettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            callers: Mutex::new(HashMap::new()),
        })
    }

    pub fn settings(&self) -> &CallerLimitSettings {
        &self.settings
    }

    /// Admits a call of `caller` at `now`, or says why not.
    pub fn admit(self: &Arc<Self>, caller: &str, now: Instant) -> Result<Admitted, Refusal> {
        let settings = self.settings;
        let mut callers = self.lock();
        if callers.len() >= MAX_CALLERS && !callers.contains_key(caller) {
            let burst = f64::from(settings.burst);
            let rate = settings.rate_per_second;
            callers.retain(|_, state| {
                state.at_work > 0
                    || state.tokens
                        + now.saturating_duration_since(state.refilled).as_secs_f64() * rate
                        < burst
            });
        }
        let state = callers.entry(caller.to_owned()).or_insert(Caller {
            at_work: 0,
            tokens: f64::from(settings.burst),
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
        state.tokens =
            (state.tokens + elapsed * settings.rate_per_second).min(f64::from(settings.burst));
        state.refilled = now;
        if state.at_work >= settings.concurrency {
            return Err(Refusal::Concurrency(state.at_work));
        }
        if state.tokens < 1.0 {
            let wait = (1.0 - state.tokens) / settings.rate_per_second.max(f64::MIN_POSITIVE);
            return Err(Refusal::Rate(Duration::from_secs_f64(wait.min(3600.0))));
        }
        state.tokens -= 1.0;
        state.at_work += 1;
        Ok(Admitted {
            limits: Arc::clone(self),
            caller: caller.to_owned(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Caller>> {
        soberana_runtime::locking::lock(&self.callers)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;

    fn limits(concurrency: u32, rate: f64, burst: u32) -> Arc<CallerLimits> {
        CallerLimits::new(CallerLimitSettings {
            concurrency,
            rate_per_second: rate,
            burst,
            ..CallerLimitSettings::default()
        })
    }

    #[test]
    fn a_burst_is_admitted_then_the_rate_with_the_wait_said() {
        let limits = limits(100, 2.0, 3);
        let now = Instant::now();
        let admitted: Vec<_> = (0..3).map(|_| limits.admit("a", now).unwrap()).collect();
        drop(admitted);
        assert_eq!(
            limits.admit("a", now).unwrap_err(),
            Refusal::Rate(Duration::from_millis(500))
        );
        assert!(limits.admit("a", now + Duration::from_millis(500)).is_ok());
    }

    #[test]
    fn concurrency_counts_calls_at_work_until_they_end() {
        let limits = limits(2, 1000.0, 1000);
        let now = Instant::now();
        let first = limits.admit("a", now).unwrap();
        let _second = limits.admit("a", now).unwrap();
        assert_eq!(limits.admit("a", now).unwrap_err(), Refusal::Concurrency(2));
        drop(first);
        assert!(limits.admit("a", now).is_ok());
    }

    #[test]
    fn callers_do_not_share_limits() {
        let limits = limits(1, 1.0, 1);
        let now = Instant::now();
        let _a = limits.admit("a", now).unwrap();
        assert!(limits.admit("a", now).is_err());
        assert!(limits.admit("b", now).is_ok());
    }

    #[test]
    fn a_refusal_names_the_flag_to_change() {
        let settings = CallerLimitSettings::default();
        assert!(
            Refusal::Concurrency(32)
                .message(&settings)
                .contains("--caller-concurrency")
        );
        assert!(
            Refusal::Rate(Duration::from_millis(20))
                .message(&settings)
                .contains("--caller-rate")
        );
    }
}
