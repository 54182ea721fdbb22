//! RED metrics per gRPC method: requests by code, and latency.

use std::time::Instant;

use prometheus::{HistogramVec, IntCounterVec, IntGaugeVec};
use soberana_runtime::metrics::MetricsRegistry;
use tonic::Status;

#[derive(Clone, Debug)]
pub struct RpcMetrics {
    pub registry: MetricsRegistry,
    requests: IntCounterVec,
    duration: HistogramVec,
    streams: IntGaugeVec,
    throttled: IntCounterVec,
    /// `soberana_api_build_info{version}`, 1 from start-up: its absence in Prometheus means no
    /// API is scraped (request counters appear only with requests).
    _build_info: IntGaugeVec,
}

impl RpcMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = MetricsRegistry::new();
        Ok(Self {
            requests: registry.counters(
                "soberana_api_requests_total",
                "gRPC calls by method and status code",
                &["method", "code"],
            )?,
            duration: registry.histograms(
                "soberana_api_request_duration_seconds",
                "gRPC call latency by method",
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
                &["method"],
            )?,
            streams: registry.gauges(
                "soberana_api_open_streams",
                "Server streams being served, by method: each holds a task and a watch",
                &["method"],
            )?,
            throttled: registry.counters(
                "soberana_api_throttled_total",
                "Calls refused by a per-caller limit before any work, by reason (concurrency, rate, streams, failed_authentications)",
                &["reason"],
            )?,
            _build_info: {
                let info = registry.gauges(
                    "soberana_api_build_info",
                    "Always 1; the API's version as a label",
                    &["version"],
                )?;
                info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
                info
            },
            registry,
        })
    }

    /// Counts one call refused by a per-caller limit.
    pub fn throttled(&self, reason: &str) {
        self.throttled.with_label_values(&[reason]).inc();
    }

    /// Counts one open stream of `method` until the returned guard is dropped.
    pub fn open_stream(&self, method: &str) -> OpenStream {
        let gauge = self.streams.with_label_values(&[method]);
        gauge.inc();
        OpenStream(gauge)
    }

    /// Records one call of `method` that started at `started`.
    pub fn observe<T>(&self, method: &str, started: Instant, result: &Result<T, Status>) {
        let code = match result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        self.observe_code(method, started, code);
    }

    /// Records one call of `method` that started at `started` and ended with `code`.
    pub fn observe_code(&self, method: &str, started: Instant, code: tonic::Code) {
        self.requests
            .with_label_values(&[method, &format!("{code:?}")])
            .inc();
        self.duration
            .with_label_values(&[method])
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Counts a call that was abandoned before it answered (its deadline passed, or the caller went
/// away: the server then drops the call) as `Cancelled`, the code the caller got.
#[derive(Debug)]
pub struct Unfinished<'a> {
    pub metrics: &'a RpcMetrics,
    pub method: &'a str,
    pub started: Instant,
    pub finished: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.metrics
                .observe_code(self.method, self.started, tonic::Code::Cancelled);
        }
    }
}

/// One stream counted in `soberana_api_open_streams` while it lives.
#[derive(Debug)]
pub struct OpenStream(prometheus::IntGauge);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}
