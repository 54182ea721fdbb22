//! One Kubernetes cluster standing for one site: its own etcd, PKI, kube-apiserver,
//! kube-controller-manager and kube-scheduler on free loopback ports, a simulated node (kwok) that
//! runs the Pods scheduled to it, and a kubeconfig for its administrator.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::binaries::HarnessBinaries;
use crate::harness::component::{Component, lock, with_log_tail};
use crate::harness::kubeconfig::write_kubeconfig;
use crate::harness::pki::ClusterPki;
use crate::harness::ports::free_loopback_port;
use crate::harness::simulated_nodes::{
    NODE_LEASE_SECONDS, NodeShape, POD_READY_AGAIN_STAGE, node_simulator_arguments,
    register_simulated_node,
};
use crate::harness::wait::{Fatal, wait_until};

/// How long one component may take to become ready. Generous: on two busy cores several API
/// servers starting at once each take tens of seconds.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// The controllers the harness runs: namespace deletion, garbage collection, service-account
/// tokens, and everything between a Deployment, StatefulSet or Job and its running Pods —
/// ReplicaSets, endpoints, and nodes that stop answering (their Pods then stop counting as ready).
const CONTROLLERS: &str = "namespace-controller,garbage-collector-controller,serviceaccount-controller,\
root-ca-certificate-publisher-controller,validatingadmissionpolicy-status-controller,\
deployment-controller,replicaset-controller,statefulset-controller,job-controller,\
endpointslice-controller,node-lifecycle-controller,pod-garbage-collector-controller";

/// How a cluster is started, beyond its name.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// The host's address on a real node's link: the API server advertises it (Pods reach the
    /// `kubernetes` Service there, forwarded to loopback), keeps that Service's endpoints, and
    /// reaches kubelets at their InternalIP. `None`: loopback only, no real node.
    pub real_node_address: Option<Ipv4Addr>,
    /// More addresses the API server's certificate names: the host ends of the control plane's
    /// real-node links, where Pods on those nodes reach this cluster through a forwarder (see
    /// [`ControlPlane::server_for_pods`](crate::ControlPlane::server_for_pods)).
    pub serving_addresses: Vec<Ipv4Addr>,
}

/// A running cluster. Its processes stop when it is dropped (node simulator, scheduler,
/// controller manager, API server, then etcd: fields drop in declaration order).
#[derive(Debug)]
pub struct Cluster {
    name: String,
    directory: PathBuf,
    node_simulator: Mutex<Component>,
    scheduler: Mutex<Component>,
    controller_manager: Mutex<Component>,
    api_server: Mutex<Component>,
    etcd: Mutex<Component>,
    etcd_port: u16,
    server: String,
    pki: ClusterPki,
    kubeconfig: PathBuf,
    options: ClusterOptions,
}

impl Cluster {
    /// Starts the cluster `name` in `<root>/<name>` and waits until it serves requests, its
    /// controllers run and its node is Ready.
    pub async fn start(name: &str, binaries: &HarnessBinaries, root: &Path) -> Result<Self> {
        Self::start_with(name, binaries, root, &ClusterOptions::default()).await
    }

    /// [`Cluster::start`] with `options`.
    pub async fn start_with(
        name: &str,
        binaries: &HarnessBinaries,
        root: &Path,
        options: &ClusterOptions,
    ) -> Result<Self> {
        let cluster = Self::prepare(name, binaries, &root.join(name), options)?;
        let started = std::time::Instant::now();
        let progress = |step: &str| {
            eprintln!(
                "harness: {name}: {step} ({:.1}s)",
                started.elapsed().as_secs_f64()
            );
        };
        cluster.start_etcd().await?;
        progress("etcd healthy");
        cluster.start_api_server().await?;
        progress(&format!("kube-apiserver ready at {}", cluster.server));
        cluster.start_controller_manager().await?;
        progress("kube-controller-manager running its controllers");
        lock(&cluster.scheduler).start()?;
        cluster.start_simulated_nodes()?;
        cluster
            .register_simulated_node(&format!("{name}-node-1"), NodeShape::default())
            .await?;
        progress("kube-scheduler and a simulated node Ready");
        Ok(cluster)
    }

    /// The cluster's PKI, ports, kubeconfigs and (not yet started) processes.
    fn prepare(
        name: &str,
        binaries: &HarnessBinaries,
        directory: &Path,
        options: &ClusterOptions,
    ) -> Result<Self> {
        let pki = ClusterPki::generate(name, &directory.join("pki"), &options.serving_addresses)?;
        let etcd_port = free_loopback_port()?;
        let etcd_peer_port = free_loopback_port()?;
        let api_port = free_loopback_port()?;
        let server = format!("https://127.0.0.1:{api_port}");
        let kubeconfig_of = |file: &str, user: &str, credentials| {
            let path = directory.join(file);
            write_kubeconfig(
                &path,
                name,
                &server,
                &pki.ca_certificate_pem,
                user,
                credentials,
            )
            .map(|()| path)
        };
        let kubeconfig = kubeconfig_of("kubeconfig", &format!("{name}-admin"), &pki.admin)?;
        let controller_manager_kubeconfig = kubeconfig_of(
            "controller-manager.kubeconfig",
            "kube-controller-manager",
            &pki.controller_manager,
        )?;
        let scheduler_kubeconfig =
            kubeconfig_of("scheduler.kubeconfig", "kube-scheduler", &pki.scheduler)?;
        let node_simulator_kubeconfig =
            kubeconfig_of("kwok.kubeconfig", "kwok", &pki.node_simulator)?;
        let own_stages = directory.join("kwok-harness-stages.yaml");
        std::fs::write(&own_stages, POD_READY_AGAIN_STAGE)
            .with_context(|| format!("writing {}", own_stages.display()))?;
        let component = |name: &str, binary: &Path, arguments| {
            Mutex::new(Component::new(name, binary, arguments, directory))
        };
        Ok(Self {
            name: name.to_owned(),
            directory: directory.to_owned(),
            node_simulator: component(
                "kwok",
                &binaries.kwok,
                node_simulator_arguments(
                    &node_simulator_kubeconfig,
                    &binaries.kwok_stages,
                    &own_stages,
                ),
            ),
            scheduler: component(
                "kube-scheduler",
                &binaries.kube_scheduler,
                scheduler_arguments(&scheduler_kubeconfig),
            ),
            controller_manager: component(
                "kube-controller-manager",
                &binaries.kube_controller_manager,
                controller_manager_arguments(&pki, &controller_manager_kubeconfig),
            ),
            api_server: component(
                "kube-apiserver",
                &binaries.kube_apiserver,
                api_server_arguments(directory, &pki, etcd_port, api_port, options),
            ),
            etcd: component(
                "etcd",
                &binaries.etcd,
                etcd_arguments(name, directory, etcd_port, etcd_peer_port),
            ),
            etcd_port,
            server,
            pki,
            kubeconfig,
            options: options.clone(),
        })
    }

    /// Registers one more simulated node of `shape` and waits until it is Ready.
    pub async fn register_simulated_node(&self, node: &str, shape: NodeShape) -> Result<()> {
        register_simulated_node(
            &self.client().await?,
            &self.name,
            node,
            shape,
            READY_TIMEOUT,
        )
        .await
        .map_err(|error| with_log_tail(&error, &self.node_simulator))
    }

    /// Stops the simulated nodes' kubelet (kwok), as when a site's machines lose power: their
    /// leases lapse and the node-lifecycle controller marks the nodes and their Pods not ready.
    pub fn stop_simulated_nodes(&self) {
        lock(&self.node_simulator).stop();
    }

    /// Starts the simulated nodes' kubelet (kwok) again.
    pub fn start_simulated_nodes(&self) -> Result<()> {
        lock(&self.node_simulator).start()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The API server's URL, e.g. `https://127.0.0.1:41234`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// An administrator's kubeconfig, usable with `kubectl --kubeconfig`.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The directory holding this cluster's PKI, data and logs.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// The options this cluster was started with.
    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// This cluster's PKI (the administrator's credentials for a real node's components).
    pub(crate) fn pki(&self) -> &ClusterPki {
        &self.pki
    }

    /// The PEM of this cluster's own certificate authority.
    pub fn ca_certificate_pem(&self) -> &str {
        &self.pki.ca_certificate_pem
    }

    /// A client acting as the cluster administrator (`system:masters`).
    pub async fn client(&self) -> Result<Client> {
        Client::try_from(self.admin_config().await?).context("building the admin client")
    }

    /// A client that authenticates with a bearer token (e.g. a service account's).
    pub async fn client_with_token(&self, token: &str) -> Result<Client> {
        let mut config = self.admin_config().await?;
        config.auth_info = AuthInfo {
            token: Some(token.to_owned().into()),
            ..AuthInfo::default()
        };
        Client::try_from(config).context("building a token client")
    }

    /// A client acting as `user` in `groups` (the administrator impersonating them), to try
    /// what a tenant owner or another person may do.
    pub async fn client_as(&self, user: &str, groups: &[&str]) -> Result<Client> {
        let mut config = self.admin_config().await?;
        config.auth_info.impersonate = Some(user.to_owned());
        config.auth_info.impersonate_groups =
            Some(groups.iter().map(|group| (*group).to_owned()).collect());
        Client::try_from(config).context("building an impersonating client")
    }

    async fn admin_config(&self) -> Result<Config> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)
            .with_context(|| format!("reading {}", self.kubeconfig.display()))?;
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .with_context(|| format!("loading {}", self.kubeconfig.display()))
    }

    /// Stops the API server (etcd and its data stay), as when a site becomes unreachable.
    pub fn stop_api_server(&self) {
        lock(&self.api_server).stop();
    }

    /// Starts the API server again on the same address and waits until it is ready.
    pub async fn start_api_server(&self) -> Result<()> {
        lock(&self.api_server).start()?;
        let client = self.client().await?;
        wait_until(
            &format!("{}: kube-apiserver /readyz", self.name),
            READY_TIMEOUT,
            || {
                let exited = lock(&self.api_server).exited();
                let client = client.clone();
                async move {
                    if let Some(status) = exited {
                        return Err(Fatal(format!("kube-apiserver exited with {status}")).into());
                    }
                    api_server_ready(&client).await
                }
            },
        )
        .await
        .map_err(|error| with_log_tail(&error, &self.api_server))
    }

    /// Freezes (`true`: SIGSTOP) or thaws (`false`: SIGCONT) the API server: frozen, it keeps its
    /// port and connections open but answers nothing, as a hung API server would.
    pub fn freeze_api_server(&self, frozen: bool) {
        lock(&self.api_server).freeze(frozen);
    }

    /// Whether the API server process is running (it may still be starting).
    pub fn api_server_running(&self) -> bool {
        lock(&self.api_server).is_running()
    }

    async fn start_etcd(&self) -> Result<()> {
        lock(&self.etcd).start()?;
        let port = self.etcd_port;
        wait_until(
            &format!("{}: etcd /health", self.name),
            READY_TIMEOUT,
            || {
                let exited = lock(&self.etcd).exited();
                async move {
                    if let Some(status) = exited {
                        return Err(Fatal(format!("etcd exited with {status}")).into());
                    }
                    etcd_healthy(port).await
                }
            },
        )
        .await
        .map_err(|error| with_log_tail(&error, &self.etcd))
    }

    /// Starts kube-controller-manager and waits for a sign that its controllers run: the
    /// service-account controller creates `default/default`.
    async fn start_controller_manager(&self) -> Result<()> {
        lock(&self.controller_manager).start()?;
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client().await?, "default");
        wait_until(
            &format!(
                "{}: kube-controller-manager to create default/default",
                self.name
            ),
            READY_TIMEOUT,
            || {
                let exited = lock(&self.controller_manager).exited();
                let accounts = accounts.clone();
                async move {
                    if let Some(status) = exited {
                        return Err(
                            Fatal(format!("kube-controller-manager exited with {status}")).into(),
                        );
                    }
                    Ok(accounts.get_opt("default").await?.is_some())
                }
            },
        )
        .await
        .map_err(|error| with_log_tail(&error, &self.controller_manager))
    }

    /// The last `lines` lines of each component's log, for a failure report.
    pub fn log_tails(&self, lines: usize) -> String {
        [
            &self.etcd,
            &self.api_server,
            &self.controller_manager,
            &self.scheduler,
            &self.node_simulator,
        ]
        .into_iter()
        .map(|component| {
            let component = lock(component);
            format!(
                "--- {} / {} ({}) ---\n{}\n",
                self.name,
                component.name(),
                component.log_file().display(),
                component.log_tail(lines)
            )
        })
        .collect()
    }
}

/// Ready means `/readyz` answers `ok` and the system namespaces exist.
async fn api_server_ready(client: &Client) -> Result<bool> {
    let request = http::Request::get("/readyz").body(Vec::new())?;
    if client.request_text(request).await?.trim() != "ok" {
        return Ok(false);
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in ["default", "kube-system"] {
        if namespaces.get_opt(name).await?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// etcd's plain-HTTP `/health` endpoint answers `{"health":"true",...}` when it serves.
pub(crate) async fn etcd_healthy(port: u16) -> Result<bool> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response.contains(r#""health":"true""#))
}

pub(crate) fn etcd_arguments(
    name: &str,
    directory: &Path,
    client_port: u16,
    peer_port: u16,
) -> Vec<String> {
    let peer = format!("http://127.0.0.1:{peer_port}");
    let client = format!("http://127.0.0.1:{client_port}");
    vec![
        format!("--name={name}"),
        format!("--data-dir={}", directory.join("etcd-data").display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster={name}={peer}"),
        // Tests and the demo trade durability on power loss for speed.
        "--unsafe-no-fsync".to_owned(),
    ]
}

fn scheduler_arguments(kubeconfig: &Path) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--authentication-kubeconfig={}", kubeconfig.display()),
        format!("--authorization-kubeconfig={}", kubeconfig.display()),
        "--leader-elect=false".to_owned(),
        "--secure-port=0".to_owned(),
    ]
}

fn api_server_arguments(
    directory: &Path,
    pki: &ClusterPki,
    etcd_port: u16,
    api_port: u16,
    options: &ClusterOptions,
) -> Vec<String> {
    let mut arguments = vec![
        format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
        "--bind-address=127.0.0.1".to_owned(),
        format!("--secure-port={api_port}"),
        // Without it the API server looks for a default route, which a sandbox may lack.
        "--advertise-address=127.0.0.1".to_owned(),
        "--endpoint-reconciler-type=none".to_owned(),
        format!("--cert-dir={}", directory.join("pki").display()),
        format!("--tls-cert-file={}", pki.serving_certificate_file.display()),
        format!("--tls-private-key-file={}", pki.serving_key_file.display()),
        format!("--client-ca-file={}", pki.ca_certificate_file.display()),
        // Each cluster is its own token issuer, so one site's tokens are not accepted by another.
        format!("--service-account-issuer=https://127.0.0.1:{api_port}"),
        format!(
            "--service-account-key-file={}",
            pki.service_account_public_key_file.display()
        ),
        format!(
            "--service-account-signing-key-file={}",
            pki.service_account_key_file.display()
        ),
        "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
        "--authorization-mode=RBAC".to_owned(),
        "--allow-privileged=true".to_owned(),
    ];
    if let Some(address) = options.real_node_address {
        // Pods reach the `kubernetes` Service, whose endpoints the API server then keeps, at
        // this address; `kubectl logs/exec` reach the kubelet at its node IP.
        arguments.retain(|argument| {
            !argument.starts_with("--advertise-address=")
                && argument != "--endpoint-reconciler-type=none"
        });
        arguments.push(format!("--advertise-address={address}"));
        arguments.push("--kubelet-preferred-address-types=InternalIP".to_owned());
    }
    arguments
}

fn controller_manager_arguments(pki: &ClusterPki, kubeconfig: &Path) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        "--leader-elect=false".to_owned(),
        "--secure-port=0".to_owned(),
        format!("--controllers={CONTROLLERS}"),
        // A node silent for two of its leases is not ready (the default is 50 s; tests of a
        // site losing its nodes should not wait that long).
        "--node-monitor-period=2s".to_owned(),
        format!("--node-monitor-grace-period={}s", 2 * NODE_LEASE_SECONDS),
        format!("--root-ca-file={}", pki.ca_certificate_file.display()),
        format!(
            "--service-account-private-key-file={}",
            pki.service_account_key_file.display()
        ),
    ]
}
