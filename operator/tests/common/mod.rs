//! What the operator's e2e test binaries share: starting the operator on an installed data
//! centre, tenant manifests, waiting for tenants, and the API and the CLI beside the operator.

#![allow(dead_code, reason = "each test binary uses its own subset")]

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::{Value, json};
use soberana_core::resources::tenant::Tenant;
use soberana_e2e::etcd_server::EtcdServer;
use soberana_e2e::operator_process::{OperatorProcess, OperatorSettings, sum_samples};
use soberana_e2e::soberana_install::{API_RBAC, service_account_token, token_kubeconfig};
use soberana_e2e::state_data_centre::{Installation, MEMBER_SITES, apply, install};
use soberana_e2e::workspace_binaries::workspace_binary;
use soberana_e2e::{Component, ControlPlane, free_loopback_port, wait_until};

pub const OPERATOR: &str = env!("CARGO_BIN_EXE_soberana-operator");
pub const MANAGEMENT: &str = "mgmt";

/// Installs the data centre (idempotent) and starts one operator replica.
pub async fn start(
    plane: &ControlPlane,
    identity: &str,
) -> Result<(Installation, OperatorProcess)> {
    start_with(plane, identity, &OperatorSettings::default()).await
}

/// Installs the data centre (idempotent) and starts one replica with `settings`.
pub async fn start_with(
    plane: &ControlPlane,
    identity: &str,
    settings: &OperatorSettings,
) -> Result<(Installation, OperatorProcess)> {
    let installation = install(plane, MANAGEMENT, &MEMBER_SITES).await?;
    let mut operator = OperatorProcess::start(
        OPERATOR.as_ref(),
        &installation.operator_kubeconfig,
        plane.cluster(MANAGEMENT)?.directory(),
        identity,
        settings,
    )?;
    operator
        .wait_for_readiness("leading", Duration::from_secs(60))
        .await?;
    Ok((installation, operator))
}

pub fn start_replica(
    plane: &ControlPlane,
    installation: &Installation,
    identity: &str,
) -> Result<OperatorProcess> {
    OperatorProcess::start(
        OPERATOR.as_ref(),
        &installation.operator_kubeconfig,
        plane.cluster(MANAGEMENT)?.directory(),
        identity,
        &OperatorSettings::default(),
    )
}

pub fn tenant(
    name: &str,
    short_code: &str,
    allowed_sites: &[&str],
    environments: &[&str],
) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": name},
        "spec": {
            "displayName": format!("Institution {name}"),
            "shortCode": short_code,
            "owners": [{"kind": "Group", "name": format!("{short_code}-admins")}],
            "highestClassification": "confidential",
            "environments": environments.iter().map(|environment| json!({"name": environment})).collect::<Vec<_>>(),
            "quota": {"cpuMillicores": 4000, "memoryMebibytes": 8192, "storageGibibytes": 100, "pods": 50},
            "allowedSites": allowed_sites,
        }
    })
}

pub async fn member(plane: &ControlPlane, site: &str) -> Result<Client> {
    plane.cluster(site)?.client().await
}

/// Waits until the Tenant reports `Ready=True` for its current generation.
pub async fn wait_ready(client: &Client, name: &str, timeout: Duration) -> Result<Tenant> {
    let tenants: Api<Tenant> = Api::all(client.clone());
    wait_until(&format!("Tenant {name} to be Ready"), timeout, || async {
        let tenant = tenants.get(name).await?;
        Ok(tenant.is_ready())
    })
    .await?;
    Ok(tenants.get(name).await?)
}

pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|condition| condition.type_ == type_)
}

/// Writes the operator sent to any cluster, leader-election renewals excepted.
pub async fn writes(operator: &OperatorProcess) -> Result<f64> {
    let (_, text) = operator.get("/metrics").await?;
    let total: f64 = ["create", "update", "patch", "delete"]
        .iter()
        .map(|verb| {
            soberana_e2e::operator_process::sum_samples(
                &text,
                "soberana_kube_api_requests_total",
                &[("verb", verb)],
            )
        })
        .sum();
    let lease: f64 = ["create", "update", "patch", "delete"]
        .iter()
        .map(|verb| {
            soberana_e2e::operator_process::sum_samples(
                &text,
                "soberana_kube_api_requests_total",
                &[("cluster", "management-lease"), ("verb", verb)],
            )
        })
        .sum();
    Ok(total - lease)
}

/// A Ready tenant `name` (short code `code`, on `allowed` sites) with a `prod` namespace on the
/// management cluster for its Workloads; returns that namespace.
pub async fn institution(
    client: &Client,
    name: &str,
    code: &str,
    allowed: &[&str],
) -> Result<String> {
    apply(client, &tenant(name, code, allowed, &["prod"])).await?;
    wait_ready(client, name, Duration::from_secs(90)).await?;
    let namespace = format!("{code}-prod");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(&namespace).await?.is_none() {
        let object: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
        namespaces.create(&PostParams::default(), &object).await?;
    }
    Ok(namespace)
}

/// `soberana-api` running as a process beside the operator, as its ServiceAccount (the chart's
/// RBAC) on the management cluster, with an etcd of its own; stops when dropped.
pub struct ApiProcess {
    pub endpoint: String,
    metrics_port: u16,
    _api: Component,
    _etcd: EtcdServer,
}

impl ApiProcess {
    /// Starts the workspace's `soberana-api` (built by `cargo test --workspace`) and waits until
    /// it listens.
    pub async fn start(plane: &ControlPlane) -> Result<Self> {
        let cluster = plane.cluster(MANAGEMENT)?;
        let token = service_account_token(cluster, API_RBAC, "soberana-api").await?;
        let directory = cluster
            .directory()
            .join(format!("soberana-api-{}", free_loopback_port()?));
        std::fs::create_dir_all(&directory)?;
        let kubeconfig = directory.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            token_kubeconfig(cluster, "soberana-api", &token),
        )?;
        let etcd = EtcdServer::start().await?;
        let (port, metrics_port) = (free_loopback_port()?, free_loopback_port()?);
        let mut api = Component::new(
            "soberana-api",
            &workspace_binary("soberana-api")?,
            vec![
                format!("--address=127.0.0.1:{port}"),
                "--insecure-listen".to_owned(),
                format!("--metrics-address=127.0.0.1:{metrics_port}"),
                format!("--etcd-endpoints={}", etcd.endpoint()),
                format!("--kubeconfig={}", kubeconfig.display()),
            ],
            &directory,
        );
        api.start()?;
        wait_until(
            "soberana-api to listen",
            Duration::from_secs(30),
            || async {
                Ok(tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok())
            },
        )
        .await
        .with_context(|| api.log_tail(20))?;
        Ok(Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            metrics_port,
            _api: api,
            _etcd: etcd,
        })
    }

    /// The `WatchMigration` streams the API is serving, by its own gauge.
    pub async fn open_watches(&self) -> Result<f64> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await?;
        Ok(sum_samples(
            &text,
            "soberana_api_open_streams",
            &[("method", "WatchMigration")],
        ))
    }

    /// The `soberana` CLI run against this API as `token`: its exit code, stdout and stderr.
    pub async fn cli(&self, token: &str, arguments: &[&str]) -> Result<(i32, String, String)> {
        let output = self.cli_command(token, arguments)?.output().await?;
        Ok((
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }

    /// The `soberana` CLI command against this API as `token`, not started.
    pub fn cli_command(&self, token: &str, arguments: &[&str]) -> Result<tokio::process::Command> {
        let mut command = tokio::process::Command::new(workspace_binary("soberana")?);
        command
            .args(arguments)
            .args(["--server", &self.endpoint, "--token", token])
            .kill_on_drop(true);
        Ok(command)
    }
}
