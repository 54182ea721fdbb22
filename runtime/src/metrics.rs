//! One way to define, register and serve Prometheus metrics: a registry whose metrics are
//! registered as they are made (none can be defined and forgotten), and the `/metrics` endpoint
//! both services expose, to which each adds its own routes (`/healthz`, `/readyz`).

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use prometheus::core::Collector;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// A Prometheus registry; each constructor registers what it makes.
#[derive(Clone, Debug, Default)]
pub struct MetricsRegistry {
    registry: Registry,
}

impl MetricsRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a metric made elsewhere (one a client's layers count in, built before the
    /// registry).
    pub fn registered<C: Collector + Clone + 'static>(
        &self,
        collector: C,
    ) -> Result<C, prometheus::Error> {
        self.registry.register(Box::new(collector.clone()))?;
        Ok(collector)
    }

    pub fn counter(&self, name: &str, help: &str) -> Result<IntCounter, prometheus::Error> {
        self.registered(IntCounter::new(name, help)?)
    }

    pub fn counters(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntCounterVec, prometheus::Error> {
        self.registered(IntCounterVec::new(Opts::new(name, help), labels)?)
    }

    pub fn gauge(&self, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
        self.registered(IntGauge::new(name, help)?)
    }

    pub fn gauges(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntGaugeVec, prometheus::Error> {
        self.registered(IntGaugeVec::new(Opts::new(name, help), labels)?)
    }

    /// Gauges holding fractions or timestamps.
    pub fn ratios(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<GaugeVec, prometheus::Error> {
        self.registered(GaugeVec::new(Opts::new(name, help), labels)?)
    }

    pub fn histograms(
        &self,
        name: &str,
        help: &str,
        buckets: &[f64],
        labels: &[&str],
    ) -> Result<HistogramVec, prometheus::Error> {
        let options = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.registered(HistogramVec::new(options, labels)?)
    }

    /// The text exposition of every registered metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// A router serving `/metrics`; add other routes to it before serving.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let registry = self.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move { registry.render() }
            }),
        )
    }
}

/// Serves `router` on `address` until `shutdown` resolves.
pub async fn serve(
    address: SocketAddr,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    tracing::info!(%address, "serving HTTP endpoints (/metrics)");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;

    #[test]
    fn what_is_made_is_registered_and_rendered() {
        let registry = MetricsRegistry::new();
        registry
            .counters("soberana_test_total", "Test events by kind", &["kind"])
            .unwrap()
            .with_label_values(&["a"])
            .inc();
        assert!(
            registry
                .render()
                .contains("soberana_test_total{kind=\"a\"} 1")
        );
    }

    #[test]
    fn a_name_defined_twice_is_refused() {
        let registry = MetricsRegistry::new();
        registry.gauge("soberana_twice", "First").unwrap();
        assert!(registry.gauge("soberana_twice", "Second").is_err());
    }
}
