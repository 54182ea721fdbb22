//! `soberana-api`: the gRPC API agencies' migration tooling talks to. It reads the data centre
//! from the management cluster (as its own ServiceAccount), keeps reservations, idempotency
//! records and the decision ledger in etcd, and authenticates and authorizes every caller
//! through the management cluster's TokenReview and SubjectAccessReview.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use soberana_api::server::checkpoints::schedule::CheckpointSchedule;
use soberana_api::server::checkpoints::signer::CheckpointSettings;
use soberana_api::server::checkpoints::sinks::{CheckpointSink, DirectorySink, LogSink};
use soberana_api::server::limits::callers::CallerLimitSettings;
use soberana_api::server::serve::{ReservationLimits, Settings, TlsFiles, serve};
use soberana_api::server::transport_policy::Plaintext;
use soberana_core::ledger::checkpoint::signing_key_from_pem;
use soberana_store::etcd::EtcdStore;
use soberana_store::etcd_security::EtcdSecurityArguments;

/// mimalloc: a decision's answer is many small strings, and the system allocator showed as the
/// largest single cost of an `Evaluate` in profiles (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "soberana-api", version)]
struct Arguments {
    /// Address of the gRPC API.
    #[arg(long, env = "SOBERANA_API_ADDRESS", default_value = "0.0.0.0:8443")]
    address: SocketAddr,
    /// Address of /metrics.
    #[arg(
        long,
        env = "SOBERANA_API_METRICS_ADDRESS",
        default_value = "0.0.0.0:9090"
    )]
    metrics_address: SocketAddr,
    /// Address of a plaintext `grpc.health.v1` (and nothing else), for the kubelet's gRPC probes,
    /// which cannot speak TLS.
    #[arg(long, env = "SOBERANA_API_HEALTH_ADDRESS")]
    health_address: Option<SocketAddr>,
    /// etcd endpoints, comma-separated (e.g. https://etcd-0:2379).
    #[arg(
        long,
        env = "SOBERANA_ETCD_ENDPOINTS",
        value_delimiter = ',',
        required = true
    )]
    etcd_endpoints: Vec<String>,
    /// Key prefix in etcd.
    #[arg(long, default_value = "/soberana/")]
    etcd_prefix: String,
    #[command(flatten)]
    etcd_security: EtcdSecurityArguments,
    /// Kubeconfig of the management cluster (default: KUBECONFIG or in-cluster).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    // Deadlines on the management API server: the same flags as the operator's.
    #[command(flatten)]
    management_deadlines: soberana_runtime::management_cluster::ManagementDeadlineArguments,
    /// PEM certificate of the server (TLS); with --tls-key.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the server.
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// PEM CA whose client certificates are required (mutual TLS).
    #[arg(long)]
    client_ca: Option<PathBuf>,
    /// Serve plaintext gRPC (no TLS), on a loopback --address only: for a lab or a sidecar.
    #[arg(long)]
    insecure_listen: bool,
    /// With --insecure-listen, also on a non-loopback --address (bearer tokens in clear).
    #[arg(long, requires = "insecure_listen")]
    allow_insecure_remote: bool,
    /// The audience callers' tokens must be issued for (`kubectl create token … --audience`).
    #[arg(long, default_value = soberana_api::server::auth::DEFAULT_TOKEN_AUDIENCE)]
    token_audience: String,
    /// Log format.
    #[arg(long, value_enum, env = "SOBERANA_LOG_FORMAT", default_value = "human")]
    log_format: soberana_runtime::logging::LogFormat,
    /// Do not serve gRPC server reflection (which describes every service to any caller).
    #[arg(long)]
    no_reflection: bool,
    /// Calls one caller (one token) may have at work at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    caller_concurrency: u32,
    /// Calls per second one caller may make, on average…
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    caller_rate: u32,
    /// …and at once after a quiet spell.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    caller_burst: u32,
    /// Watches one caller may have open at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    caller_streams: u32,
    /// Seconds after which the server ends a watch (the client resumes it).
    #[arg(long, default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..))]
    stream_lifetime_seconds: u64,
    /// Plans one tenant may hold reservations for at once.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    tenant_reservation_plans: u64,
    /// Share of the data centre's capacity (summed over sites, in percent) one tenant's
    /// reservations may hold together.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u8).range(1..=100))]
    tenant_reservation_percent: u8,
    /// Ed25519 private key (PKCS#8 PEM, e.g. a mounted Secret) that signs ledger checkpoints.
    /// Keep it out of etcd: whoever holds it can anchor a rewritten ledger.
    #[arg(long, env = "SOBERANA_LEDGER_SIGNING_KEY")]
    ledger_signing_key: Option<PathBuf>,
    /// Directory (a volume, or a synced object-store bucket) where each checkpoint is written
    /// once as checkpoint-<sequence>.json; checkpoints are also printed to the log.
    #[arg(long, requires = "ledger_signing_key")]
    checkpoint_dir: Option<PathBuf>,
    /// Sign a checkpoint after this many new records…
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every: u64,
    /// …or after this many seconds with any new record.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_interval_seconds: u64,
}

/// The checkpoint signer's settings from the arguments (none without a key).
fn checkpoints(arguments: &Arguments) -> Result<Option<CheckpointSettings>> {
    let Some(path) = &arguments.ledger_signing_key else {
        return Ok(None);
    };
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("--ledger-signing-key: reading {}", path.display()))?;
    let key = signing_key_from_pem(&pem)
        .with_context(|| format!("--ledger-signing-key {}", path.display()))?;
    let mut sinks: Vec<Arc<dyn CheckpointSink>> = vec![Arc::new(LogSink)];
    let mut anchor = None;
    if let Some(directory) = &arguments.checkpoint_dir {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("--checkpoint-dir: creating {}", directory.display()))?;
        let sink = DirectorySink {
            directory: directory.clone(),
        };
        anchor = sink
            .latest(&key.verifying_key())
            .map_err(|error| anyhow::anyhow!("--checkpoint-dir: {error}"))?;
        sinks.push(Arc::new(sink));
    }
    Ok(Some(CheckpointSettings {
        key,
        schedule: CheckpointSchedule {
            every_records: arguments.checkpoint_every,
            interval: std::time::Duration::from_secs(arguments.checkpoint_interval_seconds),
        },
        sinks,
        anchor,
    }))
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    soberana_runtime::logging::init(arguments.log_format, "info");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("soberana-api: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(arguments)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("soberana-api: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(arguments: Arguments) -> Result<()> {
    let config =
        soberana_runtime::management_cluster::config(arguments.kubeconfig.as_deref()).await?;
    let checkpoints = checkpoints(&arguments)?;
    let management_request_timeouts = prometheus::IntCounter::new(
        "soberana_api_management_request_timeouts_total",
        "Calls to the management API server that did not finish within --management-request-timeout",
    )
    .context("registering metrics")?;
    let kube = arguments
        .management_deadlines
        .limits()
        .client_builder(config, management_request_timeouts.clone())
        .context("building the Kubernetes client")?
        .build();
    let etcd_security = arguments.etcd_security.security()?;
    let store = EtcdStore::connect(
        &arguments.etcd_endpoints,
        &arguments.etcd_prefix,
        &etcd_security,
    )
    .await
    .with_context(|| {
        format!(
            "connecting to etcd at {}",
            arguments.etcd_endpoints.join(",")
        )
    })?;
    tracing::info!(address = %arguments.address, metrics = %arguments.metrics_address, "serving");
    let shutdown = soberana_runtime::shutdown::signal();
    serve(
        Settings {
            address: arguments.address,
            metrics_address: arguments.metrics_address,
            health_address: arguments.health_address,
            tls: TlsFiles {
                certificate: arguments.tls_cert,
                key: arguments.tls_key,
                client_ca: arguments.client_ca,
            },
            plaintext: match (arguments.insecure_listen, arguments.allow_insecure_remote) {
                (false, _) => Plaintext::Refused,
                (true, false) => Plaintext::Loopback,
                (true, true) => Plaintext::Anywhere,
            },
            token_audience: arguments.token_audience,
            reflection: !arguments.no_reflection,
            caller_limits: CallerLimitSettings {
                concurrency: arguments.caller_concurrency,
                rate_per_second: f64::from(arguments.caller_rate),
                burst: arguments.caller_burst,
                streams: arguments.caller_streams,
                stream_lifetime: std::time::Duration::from_secs(arguments.stream_lifetime_seconds),
            },
            reservation_limits: ReservationLimits {
                plans_per_tenant: usize::try_from(arguments.tenant_reservation_plans)
                    .unwrap_or(usize::MAX),
                percent_per_tenant: arguments.tenant_reservation_percent,
            },
            checkpoints,
            management_request_timeouts: Some(management_request_timeouts),
        },
        kube,
        Arc::new(store),
        shutdown,
    )
    .await
}
