//! Running the API: the five services with message-size limits, `grpc.health.v1` (NOT_SERVING
//! while etcd or the Kubernetes API does not answer), server reflection, optional TLS (rustls)
//! with optional client certificates, and `/metrics` on a separate address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use soberana_proto::v1 as proto;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::server::Shared;
use crate::server::checkpoints::signer::{
    CheckpointSettings, CheckpointSigner, FINAL_CHECKPOINT_WAIT,
};
use crate::server::limits::callers::{CallerLimitSettings, CallerLimits};
use crate::server::limits::layer::CallerLimitLayer;
use crate::server::rpc_metrics::RpcMetrics;
use crate::server::services::audit::AuditApi;
use crate::server::services::exchange::ExchangeApi;
use crate::server::services::inventory::InventoryApi;
use crate::server::services::migration::MigrationApi;
use crate::server::services::placement::PlacementApi;
use crate::server::services::tenant::TenantApi;
use crate::server::transport_policy::{self, Plaintext};
use soberana_store::Store;

/// Largest request or response message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// The services `grpc.health.v1` reports on ("" is the server as a whole).
const HEALTH_SERVICES: [&str; 6] = [
    "",
    "soberana.v1.PlacementService",
    "soberana.v1.MigrationService",
    "soberana.v1.InventoryService",
    "soberana.v1.TenantService",
    "soberana.v1.AuditService",
];
/// How often health is re-checked.
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// TLS material: the server's certificate and key, and the CA whose client certificates are
/// required (mTLS) when given.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
}

/// Per-tenant reservation limits: plans holding reservations, and the share of the data
/// centre's capacity (summed over sites) they may hold together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReservationLimits {
    pub plans_per_tenant: usize,
    /// 1 to 100.
    pub percent_per_tenant: u8,
}

impl Default for ReservationLimits {
    fn default() -> Self {
        Self {
            plans_per_tenant: 20,
            percent_per_tenant: 25,
        }
    }
}

/// Where and how to serve.
#[derive(Clone, Debug)]
pub struct Settings {
    pub address: SocketAddr,
    pub metrics_address: SocketAddr,
    /// Where to serve `grpc.health.v1` alone in plaintext, for the kubelet's gRPC probes (which
    /// speak neither TLS nor tokens); it tells only whether the API is serving.
    pub health_address: Option<SocketAddr>,
    pub tls: TlsFiles,
    /// Whether plaintext is allowed at all, and where (see [`transport_policy`]).
    pub plaintext: Plaintext,
    /// The audience callers' tokens must be issued for (`soberana-api` by default).
    pub token_audience: String,
    /// Whether to serve gRPC server reflection (it lists every service and message).
    pub reflection: bool,
    /// Per-caller concurrency, rate and streams.
    pub caller_limits: CallerLimitSettings,
    /// What one tenant may hold in reservations at once.
    pub reservation_limits: ReservationLimits,
    /// Signed checkpoints of the ledger; without them the ledger is chained but not anchored.
    pub checkpoints: Option<CheckpointSettings>,
    /// What the management client's deadline counts its timed-out calls in, served on /metrics
    /// (`soberana_api_management_request_timeouts_total`).
    pub management_request_timeouts: Option<prometheus::IntCounter>,
}

/// Serves the management client's timeout count, built with the client before the metrics.
fn register_management_timeouts(
    metrics: &RpcMetrics,
    timeouts: Option<prometheus::IntCounter>,
) -> Result<()> {
    if let Some(timeouts) = timeouts {
        metrics
            .registry
            .registered(timeouts)
            .context("registering the management client's timeouts")?;
    }
    Ok(())
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    settings: Settings,
    kube: kube::Client,
    store: Arc<dyn Store>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // Refused before anything starts: no plaintext unless asked for, and then on loopback.
    let tls = tls_config(&settings.tls)?;
    transport_policy::check(settings.address, tls.is_some(), settings.plaintext)?;
    let metrics = RpcMetrics::new().context("registering metrics")?;
    register_management_timeouts(&metrics, settings.management_request_timeouts.clone())?;
    let inventory = crate::server::caches::inventory::InventoryCache::start(&kube);
    let shared = Shared {
        kube: kube.clone(),
        store: store.clone(),
        metrics: metrics.clone(),
        inventory: inventory.clone(),
        auth: Arc::new(crate::server::auth::cache::AuthCache::new(
            &settings.token_audience,
        )),
        failures: Arc::default(),
        snapshots: Arc::default(),
        in_flight: Arc::default(),
        ledger_appended: Arc::default(),
        reservation_limits: settings.reservation_limits,
        streams: crate::server::limits::streams::StreamSlots::new(settings.caller_limits),
    };
    let signer = start_signer(settings.checkpoints, &store, &metrics, &shared).await?;
    let health = start_health(kube, store, settings.health_address).await;
    let reflection = reflection(settings.reflection)?;
    tokio::spawn(serve_metrics(settings.metrics_address, metrics.clone()));

    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).context("configuring TLS")?;
    }
    let mut builder = builder.layer(CallerLimitLayer {
        limits: CallerLimits::new(settings.caller_limits),
        metrics: metrics.clone(),
    });
    let served = builder
        .add_service(health)
        .add_optional_service(reflection)
        .add_service(
            proto::placement_service_server::PlacementServiceServer::new(PlacementApi(
                shared.clone(),
            ))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            proto::migration_service_server::MigrationServiceServer::new(MigrationApi(
                shared.clone(),
            ))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            proto::inventory_service_server::InventoryServiceServer::new(InventoryApi(
                shared.clone(),
            ))
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            proto::tenant_service_server::TenantServiceServer::new(TenantApi(shared.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            proto::exchange_service_server::ExchangeServiceServer::new(ExchangeApi(shared.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            proto::audit_service_server::AuditServiceServer::new(AuditApi(shared))
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_shutdown(settings.address, shutdown)
        .await
        .context("serving gRPC");
    if let Some((signer, task)) = signer {
        task.abort();
        // The records of the last calls are anchored before the process ends.
        let _ = tokio::time::timeout(FINAL_CHECKPOINT_WAIT, signer.sign_if(true)).await;
    }
    served
}

fn tls_config(files: &TlsFiles) -> Result<Option<ServerTlsConfig>> {
    let (Some(certificate), Some(key)) = (&files.certificate, &files.key) else {
        if files.certificate.is_some() || files.key.is_some() || files.client_ca.is_some() {
            anyhow::bail!("--tls-cert and --tls-key go together (and --client-ca needs both)");
        }
        return Ok(None);
    };
    let read =
        |path: &PathBuf| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let mut config =
        ServerTlsConfig::new().identity(Identity::from_pem(read(certificate)?, read(key)?));
    if let Some(ca) = &files.client_ca {
        config = config.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(Some(config))
}

/// gRPC server reflection over every service served, unless turned off (`--no-reflection`).
fn reflection(
    enabled: bool,
) -> Result<
    Option<
        tonic_reflection::server::v1::ServerReflectionServer<
            impl tonic_reflection::server::v1::ServerReflection,
        >,
    >,
> {
    if !enabled {
        return Ok(None);
    }
    let service = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building server reflection")?;
    Ok(Some(service))
}

/// Starts signing ledger checkpoints, if configured (see `checkpoints`); returns the signer and
/// its task, for the final checkpoint at shutdown.
async fn start_signer(
    checkpoints: Option<CheckpointSettings>,
    store: &Arc<dyn Store>,
    metrics: &RpcMetrics,
    shared: &Shared,
) -> Result<Option<(Arc<CheckpointSigner>, tokio::task::JoinHandle<()>)>> {
    let Some(checkpoints) = checkpoints else {
        tracing::warn!(
            "no --ledger-signing-key: the ledger is hash-chained but not anchored by signed checkpoints"
        );
        return Ok(None);
    };
    let signer = Arc::new(CheckpointSigner::new(
        store.clone(),
        checkpoints,
        &metrics.registry,
    )?);
    signer.sign_if(false).await;
    let task = tokio::spawn(signer.clone().run(shared.ledger_appended.clone()));
    Ok(Some((signer, task)))
}

/// The `grpc.health.v1` service, NOT_SERVING until the first check finds both dependencies
/// answering, and kept up to date by a task; also served alone on `plaintext_address`, if any.
async fn start_health(
    kube: kube::Client,
    store: Arc<dyn Store>,
    plaintext_address: Option<SocketAddr>,
) -> tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for service in HEALTH_SERVICES {
        reporter
            .set_service_status(service, tonic_health::ServingStatus::NotServing)
            .await;
    }
    tokio::spawn(report_health(reporter, kube, store));
    if let Some(address) = plaintext_address {
        tokio::spawn(serve_health(address, health.clone()));
    }
    health
}

/// Keeps `grpc.health.v1` in line with the dependencies: SERVING only while both etcd and the
/// Kubernetes API answer.
async fn report_health(
    reporter: tonic_health::server::HealthReporter,
    kube: kube::Client,
    store: Arc<dyn Store>,
) {
    let mut serving = Some(false);
    loop {
        let kube_answers = tokio::time::timeout(Duration::from_secs(3), kube.apiserver_version())
            .await
            .is_ok_and(|answer| answer.is_ok());
        let now = store.healthy().await && kube_answers;
        if serving != Some(now) {
            let status = if now {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            for service in HEALTH_SERVICES {
                reporter.set_service_status(service, status).await;
            }
            tracing::info!(
                serving = now,
                etcd_and_kubernetes_answer = now,
                "health changed"
            );
            serving = Some(now);
        }
        tokio::time::sleep(HEALTH_INTERVAL).await;
    }
}

/// `grpc.health.v1` alone, in plaintext, on its own address; until the process ends.
async fn serve_health(
    address: SocketAddr,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
) {
    if let Err(error) = Server::builder().add_service(health).serve(address).await {
        tracing::error!(%address, %error, "cannot serve grpc.health.v1");
    }
}

/// `/metrics` on its own address, apart from the gRPC port; until the process ends.
async fn serve_metrics(address: SocketAddr, metrics: RpcMetrics) {
    let router = metrics.registry.router();
    let forever = std::future::pending();
    if let Err(error) = soberana_runtime::metrics::serve(address, router, forever).await {
        tracing::error!(%address, %error, "cannot serve /metrics");
    }
}
