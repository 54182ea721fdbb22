//! `soberana-operator`: connects to the management cluster, waits for the Soberana CRDs, joins
//! leader election and, while leading, runs the Site and Tenant controllers. Serves `/metrics`,
//! `/healthz` and `/readyz`; SIGTERM or Ctrl-C stops it gracefully and hands the lead over.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Parser;
use soberana_operator::members::deadline::MemberLimits;
use soberana_operator::runtime::caches::caches;
use soberana_operator::runtime::context::{Context, Settings};
use soberana_operator::runtime::counting_client::counting_client;
use soberana_operator::runtime::crd_readiness::wait_for_crds;
use soberana_operator::runtime::health::{self, Phase, Readiness};
use soberana_operator::runtime::label_pair::label_pair;
use soberana_operator::runtime::leadership::{Election, LeaseSettings};
use soberana_operator::runtime::metrics::Metrics;
use soberana_runtime::logging::LogFormat;
use soberana_store::Store;
use soberana_store::etcd_security::EtcdSecurity;
use tokio::sync::watch;

/// The Soberana operator: keeps member clusters in line with the sites and tenants declared in
/// the management cluster.
#[derive(Debug, Parser)]
#[command(version)]
struct Arguments {
    /// Kubeconfig of the management cluster (default: $KUBECONFIG, ~/.kube/config or in-cluster).
    #[arg(long)]
    kubeconfig: Option<std::path::PathBuf>,
    /// Namespace the operator runs in: its leader Lease and SLO rules live here.
    #[arg(long, env = "SOBERANA_NAMESPACE", default_value = "soberana-system")]
    namespace: String,
    /// Namespace of the site kubeconfig Secrets (default: --namespace). Give them one of their
    /// own: the operator's RBAC then grants Secrets there only, so its token reads no other
    /// Secret (the API's TLS key, etcd's credentials).
    #[arg(long, env = "SOBERANA_SITE_SECRETS_NAMESPACE")]
    site_secrets_namespace: Option<String>,
    /// Address of the /metrics, /healthz and /readyz endpoints.
    #[arg(long, env = "SOBERANA_METRICS_ADDRESS", default_value = "0.0.0.0:8080")]
    metrics_address: SocketAddr,
    /// Seconds between two probes of a site.
    #[arg(long, env = "SOBERANA_PROBE_INTERVAL", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    probe_interval: u64,
    /// Number of probes the measured availability covers (the rolling window).
    #[arg(long, default_value_t = 5760, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    availability_window: u64,
    /// Namespace of each site's ingress controller; tenants accept traffic from it.
    #[arg(long, default_value = "ingress")]
    ingress_namespace: String,
    /// Seconds between two checks of a site for tenant objects deleted there (metadata-only lists).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    drift_check_interval: u64,
    /// Seconds between two scans of a site's existing objects for residency violations (also
    /// scanned at once whenever its policies change).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    residency_scan_interval: u64,
    /// The user name the operator has on member clusters (its ServiceAccount there); only it may
    /// change the labels of tenant namespaces.
    #[arg(long, default_value = soberana_core::residency::admission_policies::DEFAULT_SOBERANA_IDENTITY)]
    member_identity: String,
    /// etcd endpoints of the API's decision ledger (comma-separated); placement decisions are
    /// appended to it. Without it, decisions are only in the Workloads' status and Events.
    #[arg(long, env = "SOBERANA_LEDGER_ETCD_ENDPOINTS", value_delimiter = ',')]
    ledger_etcd_endpoints: Vec<String>,
    /// Key prefix of the ledger in etcd (the API's `--etcd-prefix`).
    #[arg(long, default_value = "/soberana/")]
    ledger_etcd_prefix: String,
    // TLS and authentication to the ledger's etcd: the same flags as the API's.
    #[command(flatten)]
    ledger_etcd_security: soberana_store::etcd_security::EtcdSecurityArguments,
    /// Seconds a connection to a member API server may take to open.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    member_connect_timeout: u64,
    /// Seconds one call to a member API server may take, from the call to the last byte of the
    /// answer (for a watch: until it starts streaming); a site that does not answer in time is
    /// reported and retried, and holds up no other site.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    member_request_timeout: u64,
    /// How many calls to one member API server may be in flight at once (watches not counted);
    /// more wait for a free slot within their own deadline.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    member_concurrency: u16,
    // Deadlines on the management API server: the same flags as the API's.
    #[command(flatten)]
    management_deadlines: soberana_runtime::management_cluster::ManagementDeadlineArguments,
    /// How many Sites, and how many Tenants, are reconciled at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    reconcile_concurrency: u16,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "soberana-operator")]
    lease_name: String,
    /// Seconds a leader's claim lasts without renewal; a standby takes over after it.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=300))]
    lease_duration: u64,
    /// This replica's identity in the Lease (defaults to the host name and process id).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Labels on the generated SLO rules (the PrometheusRule or ConfigMap `soberana-slo`), as
    /// key=value pairs separated by commas: what your Prometheus selects rules by
    /// (kube-prometheus-stack: release=<its release name>).
    #[arg(long, env = "SOBERANA_SLO_RULE_LABELS", value_delimiter = ',', value_parser = label_pair)]
    slo_rule_labels: Vec<(String, String)>,
    /// Log format.
    #[arg(long, value_enum, env = "SOBERANA_LOG_FORMAT", default_value = "human")]
    log_format: LogFormat,
}

/// How long in-flight reconciles may run after a shutdown request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    soberana_runtime::logging::init(arguments.log_format, "info,kube_lease_manager=warn");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(arguments)) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(arguments: Arguments) -> Result<ExitCode> {
    // Read now, so that a standby with a wrong password file fails at start, not at takeover.
    let ledger_security = arguments.ledger_etcd_security.security()?;
    let metrics = Metrics::new().context("registering metrics")?;
    let config =
        soberana_runtime::management_cluster::config(arguments.kubeconfig.as_deref()).await?;
    tracing::info!(server = %config.cluster_url, namespace = %arguments.namespace, "starting");
    let limits = arguments.management_deadlines.limits();
    let client = counting_client(config.clone(), "management", &metrics, &limits)
        .context("building the management client")?;
    // Lease renewals are counted apart: they are the one write a quiet leader keeps making.
    let lease_client = counting_client(config, "management-lease", &metrics, &limits)
        .context("building the lease client")?;

    let stopped = stop_on_signal();

    let readiness = Arc::new(Readiness::default());
    let server = tokio::spawn(health::serve(
        arguments.metrics_address,
        metrics.clone(),
        readiness.clone(),
        stopped(),
    ));

    tokio::select! {
        () = wait_for_crds(&client) => {}
        () = stopped() => return Ok(ExitCode::SUCCESS),
    }

    let identity = arguments.identity.clone().unwrap_or_else(default_identity);
    let lease = LeaseSettings {
        namespace: arguments.namespace.clone(),
        name: arguments.lease_name.clone(),
        identity: identity.clone(),
        duration: Duration::from_secs(arguments.lease_duration),
    };
    let mut election = Election::join(lease_client, &lease)
        .await
        .context("joining leader election")?;
    readiness.set(Phase::Standby);
    tracing::info!(%identity, lease = %lease.name, "waiting to lead");
    tokio::select! {
        acquired = election.acquired() => acquired.context("leader election ended")?,
        () = stopped() => {
            readiness.set(Phase::Stopping);
            election.resign().await;
            return Ok(ExitCode::SUCCESS);
        }
    }
    readiness.set(Phase::Leading);
    tracing::info!(%identity, "leading: starting the controllers");

    let settings = settings(&arguments);
    let (caches, cache_writers) = caches();
    let mut context = Context::new(client, metrics, settings, &identity, caches);
    context.ledger = ledger(&arguments, &ledger_security).await?;
    let context = Arc::new(context);
    let lost = election.lost();
    let (end_sender, end) = watch::channel(false);
    let controllers = soberana_operator::controllers::run(context, cache_writers, end);
    tokio::pin!(controllers);
    let lost_lead = tokio::select! {
        () = &mut controllers => false,
        () = lost => true,
        () = stopped() => false,
    };
    let _ = end_sender.send(true);
    readiness.set(Phase::Stopping);
    // In-flight reconciles finish before the lead is handed over, within a bound: a reconcile
    // waiting on an unreachable API server must not keep the process alive.
    if tokio::time::timeout(SHUTDOWN_GRACE, controllers)
        .await
        .is_err()
    {
        tracing::warn!(grace = ?SHUTDOWN_GRACE, "reconciles still running at the end of the grace period; stopping anyway");
    }
    if lost_lead {
        // Another replica may be writing now: stop at once and let the restart stand by.
        tracing::error!("lost the leader lease; exiting so that only the new leader writes");
        return Ok(ExitCode::FAILURE);
    }
    election.resign().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default();
    format!(
        "{}-{}",
        if host.is_empty() {
            "soberana"
        } else {
            host.as_str()
        },
        std::process::id()
    )
}

/// The controllers' settings from the command line.
fn settings(arguments: &Arguments) -> Settings {
    Settings {
        namespace: arguments.namespace.clone(),
        site_secrets_namespace: arguments
            .site_secrets_namespace
            .clone()
            .unwrap_or_else(|| arguments.namespace.clone()),
        probe_interval: Duration::from_secs(arguments.probe_interval),
        availability_window: usize::try_from(arguments.availability_window).unwrap_or(usize::MAX),
        ingress_namespace: arguments.ingress_namespace.clone(),
        reconcile_concurrency: arguments.reconcile_concurrency,
        drift_check_interval: Duration::from_secs(arguments.drift_check_interval),
        residency_scan_interval: Duration::from_secs(arguments.residency_scan_interval),
        member_identity: arguments.member_identity.clone(),
        slo_rule_labels: arguments.slo_rule_labels.iter().cloned().collect(),
        member_limits: MemberLimits {
            connect_timeout: Duration::from_secs(arguments.member_connect_timeout),
            request_timeout: Duration::from_secs(arguments.member_request_timeout),
            concurrency: usize::from(arguments.member_concurrency),
        },
    }
}

/// The decision ledger in etcd, when `--ledger-etcd-endpoints` names one.
async fn ledger(arguments: &Arguments, security: &EtcdSecurity) -> Result<Option<Arc<dyn Store>>> {
    if arguments.ledger_etcd_endpoints.is_empty() {
        return Ok(None);
    }
    let store = soberana_store::etcd::EtcdStore::connect(
        &arguments.ledger_etcd_endpoints,
        &arguments.ledger_etcd_prefix,
        security,
    )
    .await
    .map_err(|error| anyhow::anyhow!("--ledger-etcd-endpoints: {error}"))?;
    Ok(Some(Arc::new(store)))
}

/// A future factory that resolves once SIGTERM or Ctrl-C arrived (each call a new future).
fn stop_on_signal() -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Clone {
    let (stop_sender, stop) = watch::channel(false);
    tokio::spawn(async move {
        soberana_runtime::shutdown::signal().await;
        tracing::info!("shutdown requested");
        let _ = stop_sender.send(true);
    });
    move || {
        let mut stop = stop.clone();
        Box::pin(async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
    }
}
