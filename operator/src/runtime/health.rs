//! The operator's HTTP endpoints: `/metrics` (Prometheus text), `/healthz` (the process serves)
//! and `/readyz` (the CRDs are established and this replica either leads or stands by ready to).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::runtime::metrics::Metrics;

/// What this replica is doing, as `/readyz` and the logs report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Waiting for the CRDs to be established.
    Starting = 0,
    /// Ready, waiting for the leader Lease.
    Standby = 1,
    /// Holding the Lease and running the controllers.
    Leading = 2,
    /// Shutting down.
    Stopping = 3,
}

/// The replica's phase, shared between the controllers and the HTTP endpoints.
#[derive(Debug, Default)]
pub struct Readiness(AtomicU8);

impl Readiness {
    pub fn set(&self, phase: Phase) {
        self.0.store(phase as u8, Ordering::SeqCst);
    }

    pub fn phase(&self) -> Phase {
        match self.0.load(Ordering::SeqCst) {
            1 => Phase::Standby,
            2 => Phase::Leading,
            3 => Phase::Stopping,
            _ => Phase::Starting,
        }
    }
}

/// Serves the endpoints on `address` until `shutdown` resolves.
pub async fn serve(
    address: SocketAddr,
    metrics: Metrics,
    readiness: Arc<Readiness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = metrics
        .registry
        .router()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(readiness);
    soberana_runtime::metrics::serve(address, router, shutdown).await
}

async fn ready(State(readiness): State<Arc<Readiness>>) -> (StatusCode, String) {
    match readiness.phase() {
        Phase::Leading => (StatusCode::OK, "ok: leading\n".to_owned()),
        Phase::Standby => (
            StatusCode::OK,
            "ok: standing by for the leader lease\n".to_owned(),
        ),
        Phase::Starting => (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for the Soberana CRDs\n".to_owned(),
        ),
        Phase::Stopping => (
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down\n".to_owned(),
        ),
    }
}
