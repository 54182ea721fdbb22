//! Every call to a member has a deadline, and no site may hold more than a few calls at once.
//!
//! A member API server that stops answering (frozen, overloaded, or a half-open pooled connection)
//! would otherwise keep a reconcile waiting until TCP gives up, and with it every other site that
//! reconcile reports on. Each member client therefore gets a connect timeout, a write timeout, and
//! a whole-request deadline: from the moment the call is made (waiting for one of the site's call
//! slots included) until the last byte of the answer is read. A watch is a long request by design:
//! its deadline covers only the wait until it starts streaming; after that, kube's watcher notices
//! an idle stream (its idle timeout) and reconnects.

use std::time::Duration;

use soberana_runtime::request_deadline::{DeadlineLayer, RequestDeadline};
pub use soberana_runtime::request_deadline::{RequestTimeout, timed_out};

use crate::runtime::counting_client::counting_layer;
use crate::runtime::metrics::Metrics;

/// How many calls may queue for a member client's connection pool.
const QUEUED_CALLS: usize = 1024;

/// A client for member `site` whose every call is counted, bounded by `limits` (see the module
/// documentation), and counted again in `soberana_member_request_timeouts_total` when it times
/// out.
pub fn member_client(
    config: kube::Config,
    site: &str,
    metrics: &Metrics,
    limits: &MemberLimits,
) -> Result<kube::Client, kube::Error> {
    let timeouts = metrics.member_request_timeouts.with_label_values(&[site]);
    Ok(
        kube::client::ClientBuilder::try_from(limits.apply_to(config))?
            // Cloneable, so that each call can wait for its slot inside its own deadline.
            .with_layer(&tower::buffer::BufferLayer::new(QUEUED_CALLS))
            .with_layer(&DeadlineLayer::new(
                limits.deadline(),
                Some(limits.concurrency),
                timeouts,
            ))
            .with_layer(&counting_layer(site, metrics))
            .build(),
    )
}

/// How calls to each member are bounded (the operator's `--member-*` flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberLimits {
    /// How long opening a connection to a member may take.
    pub connect_timeout: Duration,
    /// How long one call may take, start to end (for a watch: until it streams).
    pub request_timeout: Duration,
    /// How many calls to one site may be in flight at once (watches not counted).
    pub concurrency: usize,
}

impl Default for MemberLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            concurrency: 32,
        }
    }
}

impl MemberLimits {
    /// `config` with the connection-level timeouts set: connect, and write (a request stuck
    /// writing is as stuck as one waiting to read).
    pub fn apply_to(&self, mut config: kube::Config) -> kube::Config {
        config.connect_timeout = Some(self.connect_timeout);
        config.write_timeout = Some(self.request_timeout);
        config
    }

    /// The whole-request deadline of a member call.
    pub fn deadline(&self) -> RequestDeadline {
        RequestDeadline {
            server: "member",
            flag: "--member-request-timeout",
            timeout: self.request_timeout,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;

    #[test]
    fn a_member_call_past_its_deadline_names_the_flag_that_sets_it() {
        let limits = MemberLimits {
            request_timeout: Duration::from_millis(100),
            ..MemberLimits::default()
        };
        let deadline = limits.deadline();
        let error = RequestTimeout {
            server: deadline.server,
            flag: deadline.flag,
            after: deadline.timeout,
        };
        assert_eq!(
            error.to_string(),
            "the member API server did not answer within 0.1s (--member-request-timeout)"
        );
    }
}
