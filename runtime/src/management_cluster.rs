//! The management cluster's connection settings: from `--kubeconfig` when given (an error names
//! the file), else inferred (KUBECONFIG, ~/.kube/config, or the in-cluster ServiceAccount); and
//! the deadlines of its calls (`--management-connect-timeout`, `--management-request-timeout`).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, Result};
use http::{Request, Response};
use kube::Config;
use kube::client::{Body, ClientBuilder, DynBody};
use prometheus::IntCounter;
use tower::BoxError;
use tower::buffer::Buffer;

use crate::request_deadline::{Deadline, DeadlineLayer, RequestDeadline};

/// What a call of kube's default service stack yields.
type CallFuture = Pin<Box<dyn Future<Output = Result<Response<Box<DynBody>>, BoxError>> + Send>>;
/// kube's default service stack under the deadline ([`ManagementLimits::client_builder`]).
pub type ManagementService = Deadline<Buffer<Request<Body>, CallFuture>>;

/// The settings for `kubeconfig`, or inferred without one.
pub async fn config(kubeconfig: Option<&Path>) -> Result<Config> {
    let Some(path) = kubeconfig else {
        return Config::infer().await.context(
            "loading the management cluster's kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster)",
        );
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("--kubeconfig {}: cannot read a kubeconfig", path.display()))?;
    Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .with_context(|| format!("--kubeconfig {}: cannot load it", path.display()))
}

/// Deadlines on the management cluster's API server (`--management-connect-timeout`,
/// `--management-request-timeout`), the same in the operator and the API.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct ManagementDeadlineArguments {
    /// Seconds a connection to the management API server may take to open.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub management_connect_timeout: u64,
    /// Seconds one call to the management API server may take, from the call to the last byte of
    /// the answer (for a watch: until it starts streaming; a watch then lasts as long as the
    /// server keeps it); a call past it fails and is retried instead of holding its caller.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub management_request_timeout: u64,
}

impl ManagementDeadlineArguments {
    /// The limits these flags set.
    pub fn limits(&self) -> ManagementLimits {
        ManagementLimits {
            connect_timeout: Duration::from_secs(self.management_connect_timeout),
            request_timeout: Duration::from_secs(self.management_request_timeout),
        }
    }
}

/// How calls to the management API server are bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManagementLimits {
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
    /// How long one call may take, start to end (for a watch: until it streams).
    pub request_timeout: Duration,
}

/// How many calls may queue for the management client's connection pool.
const QUEUED_CALLS: usize = 1024;

impl ManagementLimits {
    /// `config` with the connection-level timeouts set: connect, and write. The read timeout
    /// stays kube's (just above the server-side end of a watch), so that a quiet watch is not cut.
    pub fn apply_to(&self, mut config: Config) -> Config {
        config.connect_timeout = Some(self.connect_timeout);
        config.write_timeout = Some(self.request_timeout);
        config
    }

    /// The whole-request deadline of a management call.
    pub fn deadline(&self) -> RequestDeadline {
        RequestDeadline {
            server: "management",
            flag: "--management-request-timeout",
            timeout: self.request_timeout,
        }
    }

    /// A client builder for `config` whose every call has the deadline (no bound on calls in
    /// flight: the management cluster is the one every reconcile needs); `timeouts` counts the
    /// calls that ran out of time. Further layers (counting) go on top.
    pub fn client_builder(
        &self,
        config: Config,
        timeouts: IntCounter,
    ) -> Result<ClientBuilder<ManagementService>, kube::Error> {
        Ok(ClientBuilder::try_from(self.apply_to(config))?
            // Cloneable, so that each call runs under its own deadline.
            .with_layer(&tower::buffer::BufferLayer::new(QUEUED_CALLS))
            .with_layer(&DeadlineLayer::new(self.deadline(), None, timeouts)))
    }
}
