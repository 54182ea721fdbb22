//! What `make demo` shows of the API: `soberana-api` running as its own ServiceAccount with its
//! own etcd, an agency's migration tool (a ServiceAccount allowed to manage Workloads in the
//! Ministry of Health's namespace) planning a migration with the `soberana` CLI, and the command
//! to do the same by hand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use kube::Client;

use crate::harness::cluster::Cluster;
use crate::harness::component::Component;
use crate::harness::control_plane::ControlPlane;
use crate::harness::etcd_server::EtcdServer;
use crate::harness::ports::free_loopback_port;
use crate::install::agency_access::{agency_token, auditor_token};
use crate::install::soberana_install::{API_RBAC, service_account_token, token_kubeconfig};

/// The running API; dropping it stops the API and its etcd.
pub struct RunningApi {
    _api: Component,
    _etcd: EtcdServer,
    pub endpoint: String,
}

impl std::fmt::Debug for RunningApi {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RunningApi")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// A migration the Ministry of Health's tool plans in the demo.
const WORKLOAD: &str = "apiVersion: soberana.io/v1alpha1
kind: Workload
metadata:
  name: agenda-de-citas
  namespace: minsa-prod
spec:
  tenant: ministry-of-health
  classification: internal
  resources:
    cpuMillicores: 500
    memoryMebibytes: 1024
  replicas: 2
  migrationSource:
    external: Servidor de citas del Hospital Calderón Guardia, rack 2
";

/// Starts the API next to the `management` cluster on `etcd` (where the operator appends its
/// placement decisions too), plans the demo migration with the CLI and verifies the decision
/// ledger as a security team would; returns the API and the lines to print.
pub async fn start_and_plan(
    plane: &ControlPlane,
    management: &str,
    api_binary: &Path,
    cli_binary: &Path,
    etcd: EtcdServer,
) -> Result<(RunningApi, Vec<String>)> {
    let cluster = plane.cluster(management)?;
    let directory = cluster.directory();
    let kubeconfig = write_api_kubeconfig(cluster).await?;
    let ledger = LedgerFiles::in_directory(directory);
    ledger.make_keys(cli_binary).await?;
    let api = start_api(api_binary, &etcd, &kubeconfig, &ledger, directory).await?;
    let admin = cluster.client().await?;
    let mut lines = vec![format!(
        "\nThe API serves on {} (gRPC, reflection and grpc.health.v1; metrics on http://127.0.0.1:{}/metrics), as the ServiceAccount soberana-api, with its own etcd at {}.",
        api.endpoint,
        api.metrics_port,
        etcd.endpoint()
    )];
    lines.extend(plan_migration(&admin, cli_binary, directory, &api.endpoint).await?);
    lines.extend(verify_ledger(&admin, cli_binary, &api, &ledger).await?);
    Ok((
        RunningApi {
            _api: api.component,
            _etcd: etcd,
            endpoint: api.endpoint,
        },
        lines,
    ))
}

/// A kubeconfig for the API's own ServiceAccount (its RBAC from the `soberana` chart), so the demo's
/// API reads the cluster with no more rights than a data centre would give it.
async fn write_api_kubeconfig(cluster: &Cluster) -> Result<PathBuf> {
    let token = service_account_token(cluster, API_RBAC, "soberana-api").await?;
    let kubeconfig = cluster.directory().join("soberana-api.kubeconfig");
    std::fs::write(
        &kubeconfig,
        token_kubeconfig(cluster, "soberana-api", &token),
    )?;
    Ok(kubeconfig)
}

/// The ledger's signing key pair and the directory its signed checkpoints go to.
struct LedgerFiles {
    signing_key: PathBuf,
    public_key: PathBuf,
    checkpoints: PathBuf,
}

impl LedgerFiles {
    fn in_directory(directory: &Path) -> Self {
        Self {
            signing_key: directory.join("ledger-signing.pem"),
            public_key: directory.join("ledger.pub"),
            checkpoints: directory.join("ledger-checkpoints"),
        }
    }

    /// Makes the key pair once with `soberana audit keygen`, as a data centre would before the
    /// API's first start; a restarted demo keeps the key its checkpoints were signed with.
    async fn make_keys(&self, cli_binary: &Path) -> Result<()> {
        if self.signing_key.exists() {
            return Ok(());
        }
        let keygen = tokio::process::Command::new(cli_binary)
            .args(["audit", "keygen", "--private-key"])
            .arg(&self.signing_key)
            .arg("--public-key")
            .arg(&self.public_key)
            .output()
            .await
            .with_context(|| format!("running {}", cli_binary.display()))?;
        anyhow::ensure!(
            keygen.status.success(),
            "soberana audit keygen: {}",
            String::from_utf8_lossy(&keygen.stderr)
        );
        Ok(())
    }
}

/// `soberana-api` running and listening.
struct StartedApi {
    component: Component,
    endpoint: String,
    metrics_port: u16,
}

/// Starts `soberana-api` on free loopback ports with the ledger in `etcd` and waits until it
/// listens, so the agency's first call finds it.
async fn start_api(
    api_binary: &Path,
    etcd: &EtcdServer,
    kubeconfig: &Path,
    ledger: &LedgerFiles,
    directory: &Path,
) -> Result<StartedApi> {
    let port = free_loopback_port()?;
    let metrics_port = free_loopback_port()?;
    let mut api = Component::new(
        "soberana-api",
        api_binary,
        vec![
            format!("--address=127.0.0.1:{port}"),
            // The demo's API is on loopback only, beside its clusters.
            "--insecure-listen".to_owned(),
            format!("--metrics-address=127.0.0.1:{metrics_port}"),
            format!("--etcd-endpoints={}", etcd.endpoint()),
            format!("--kubeconfig={}", kubeconfig.display()),
            format!("--ledger-signing-key={}", ledger.signing_key.display()),
            format!("--checkpoint-dir={}", ledger.checkpoints.display()),
            // A checkpoint after every record, so the demo's verification anchors its plan.
            "--checkpoint-every=1".to_owned(),
        ],
        directory,
    );
    api.start()?;
    let up = poll(|| async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    anyhow::ensure!(
        up,
        "soberana-api did not listen on port {port}:\n{}",
        api.log_tail(20)
    );
    Ok(StartedApi {
        component: api,
        endpoint: format!("http://127.0.0.1:{port}"),
        metrics_port,
    })
}

/// The Ministry of Health's migration tool plans the demo migration with the `soberana` CLI,
/// under its own token; returns the commands to do the same by hand and the CLI's answer.
async fn plan_migration(
    admin: &Client,
    cli_binary: &Path,
    directory: &Path,
    endpoint: &str,
) -> Result<Vec<String>> {
    let agency = agency_token(admin, "minsa-prod", "migration-tool").await?;
    let token_file = directory.join("minsa-migration-tool.token");
    std::fs::write(&token_file, &agency)?;
    let workload_file: PathBuf = directory.join("agenda-de-citas.yaml");
    std::fs::write(&workload_file, WORKLOAD)?;
    let output = tokio::process::Command::new(cli_binary)
        .args(["plan", "-f"])
        .arg(&workload_file)
        .args(["--server", endpoint, "--token", &agency])
        .output()
        .await
        .with_context(|| format!("running {}", cli_binary.display()))?;
    let mut lines = vec![
        "The Ministry of Health's migration tool (ServiceAccount minsa-prod/migration-tool, allowed to manage Workloads in minsa-prod only) plans a migration:".to_owned(),
        format!(
            "  export SOBERANA_SERVER={endpoint} SOBERANA_TOKEN=$(cat {})",
            token_file.display()
        ),
        format!("  {} plan -f {}", cli_binary.display(), workload_file.display()),
    ];
    lines.extend(indented(&output.stdout));
    let errors = String::from_utf8_lossy(&output.stderr);
    if !errors.trim().is_empty() {
        lines.extend(indented(&output.stderr));
    }
    Ok(lines)
}

/// A security team verifies the decision ledger (the plan just made and the operator's
/// placements) against the checkpoint the API signed after the plan; returns what to print.
async fn verify_ledger(
    admin: &Client,
    cli_binary: &Path,
    api: &StartedApi,
    ledger: &LedgerFiles,
) -> Result<Vec<String>> {
    let auditor = auditor_token(admin, "default", "ledger-auditor").await?;
    // The plan's checkpoint is signed just after the plan is recorded.
    let anchored = poll(|| async move {
        std::fs::read_dir(&ledger.checkpoints)
            .map(|entries| entries.count() > 0)
            .unwrap_or(false)
    })
    .await;
    anyhow::ensure!(
        anchored,
        "soberana-api signed no checkpoint into {}:\n{}",
        ledger.checkpoints.display(),
        api.component.log_tail(20)
    );
    let verified = tokio::process::Command::new(cli_binary)
        .args([
            "audit",
            "verify",
            "--server",
            &api.endpoint,
            "--token",
            &auditor,
        ])
        .arg("--checkpoint")
        .arg(&ledger.checkpoints)
        .arg("--public-key")
        .arg(&ledger.public_key)
        .output()
        .await
        .with_context(|| format!("running {}", cli_binary.display()))?;
    let mut lines = vec![
        "A security team (ServiceAccount default/ledger-auditor, allowed to list Workloads) verifies the decision ledger, where the API records plans and the operator its placements:".to_owned(),
        format!(
            "  {} audit verify --token $(…) --checkpoint {} --public-key {}",
            cli_binary.display(),
            ledger.checkpoints.display(),
            ledger.public_key.display()
        ),
    ];
    lines.extend(indented(&verified.stdout));
    lines.extend(indented(&verified.stderr));
    Ok(lines)
}

/// Checks `condition` every 100 ms, up to 100 times; whether it held.
async fn poll<F: Future<Output = bool>>(condition: impl Fn() -> F) -> bool {
    for _ in 0..100 {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A program's output, one printed line per line, indented under the command that made it.
fn indented(output: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(output)
        .lines()
        .map(|line| format!("    {line}"))
        .collect()
}
