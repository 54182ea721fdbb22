//! What `make demo` shows of the API: `soberana-api` running as its own ServiceAccount with its
//! own etcd, an agency's migration tool (a ServiceAccount allowed to manage Workloads in the
//! Ministry of Health's namespace) planning a migration with the `soberana` CLI, and the command
//! to do the same by hand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::harness::component::Component;
use crate::harness::control_plane::ControlPlane;
use crate::harness::etcd_server::EtcdServer;
use crate::harness::ports::free_loopback_port;
use crate::install::agency_access::{agency_token, auditor_token};
use crate::install::soberana_install::{service_account_token, token_kubeconfig};

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
    let token =
        service_account_token(cluster, "api-management-cluster.yaml", "soberana-api").await?;
    let kubeconfig = directory.join("soberana-api.kubeconfig");
    std::fs::write(
        &kubeconfig,
        token_kubeconfig(cluster, "soberana-api", &token),
    )?;
    // The ledger's signing key, made once with the CLI; checkpoints go to a directory.
    let signing_key = directory.join("ledger-signing.pem");
    let public_key = directory.join("ledger.pub");
    let checkpoints = directory.join("ledger-checkpoints");
    if !signing_key.exists() {
        let keygen = tokio::process::Command::new(cli_binary)
            .args(["audit", "keygen", "--private-key"])
            .arg(&signing_key)
            .arg("--public-key")
            .arg(&public_key)
            .output()
            .await
            .with_context(|| format!("running {}", cli_binary.display()))?;
        anyhow::ensure!(
            keygen.status.success(),
            "soberana audit keygen: {}",
            String::from_utf8_lossy(&keygen.stderr)
        );
    }
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
            format!("--ledger-signing-key={}", signing_key.display()),
            format!("--checkpoint-dir={}", checkpoints.display()),
            // A checkpoint after every record, so the demo's verification anchors its plan.
            "--checkpoint-every=1".to_owned(),
        ],
        directory,
    );
    api.start()?;
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(
        up,
        "soberana-api did not listen on port {port}:\n{}",
        api.log_tail(20)
    );
    let endpoint = format!("http://127.0.0.1:{port}");

    let admin = cluster.client().await?;
    let agency = agency_token(&admin, "minsa-prod", "migration-tool").await?;
    let token_file = directory.join("minsa-migration-tool.token");
    std::fs::write(&token_file, &agency)?;
    let workload_file: PathBuf = directory.join("agenda-de-citas.yaml");
    std::fs::write(&workload_file, WORKLOAD)?;
    let output = tokio::process::Command::new(cli_binary)
        .args(["plan", "-f"])
        .arg(&workload_file)
        .args(["--server", &endpoint, "--token", &agency])
        .output()
        .await
        .with_context(|| format!("running {}", cli_binary.display()))?;
    let mut lines = vec![
        format!(
            "\nThe API serves on {endpoint} (gRPC, reflection and grpc.health.v1; metrics on http://127.0.0.1:{metrics_port}/metrics), as the ServiceAccount soberana-api, with its own etcd at {}.",
            etcd.endpoint()
        ),
        "The Ministry of Health's migration tool (ServiceAccount minsa-prod/migration-tool, allowed to manage Workloads in minsa-prod only) plans a migration:".to_owned(),
        format!(
            "  export SOBERANA_SERVER={endpoint} SOBERANA_TOKEN=$(cat {})",
            token_file.display()
        ),
        format!("  {} plan -f {}", cli_binary.display(), workload_file.display()),
    ];
    lines.extend(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| format!("    {line}")),
    );
    let errors = String::from_utf8_lossy(&output.stderr);
    if !errors.trim().is_empty() {
        lines.extend(errors.lines().map(|line| format!("    {line}")));
    }
    let auditor = auditor_token(&admin, "default", "ledger-auditor").await?;
    // The plan's checkpoint is signed just after the plan is recorded.
    let mut anchored = false;
    for _ in 0..100 {
        anchored = std::fs::read_dir(&checkpoints)
            .map(|entries| entries.count() > 0)
            .unwrap_or(false);
        if anchored {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(
        anchored,
        "soberana-api signed no checkpoint into {}:\n{}",
        checkpoints.display(),
        api.log_tail(20)
    );
    let verified = tokio::process::Command::new(cli_binary)
        .args([
            "audit", "verify", "--server", &endpoint, "--token", &auditor,
        ])
        .arg("--checkpoint")
        .arg(&checkpoints)
        .arg("--public-key")
        .arg(&public_key)
        .output()
        .await
        .with_context(|| format!("running {}", cli_binary.display()))?;
    lines.push(
        "A security team (ServiceAccount default/ledger-auditor, allowed to list Workloads) verifies the decision ledger, where the API records plans and the operator its placements:".to_owned(),
    );
    lines.push(format!(
        "  {} audit verify --token $(…) --checkpoint {} --public-key {}",
        cli_binary.display(),
        checkpoints.display(),
        public_key.display()
    ));
    for stream in [&verified.stdout, &verified.stderr] {
        lines.extend(
            String::from_utf8_lossy(stream)
                .lines()
                .map(|line| format!("    {line}")),
        );
    }
    Ok((
        RunningApi {
            _api: api,
            _etcd: etcd,
            endpoint,
        },
        lines,
    ))
}
