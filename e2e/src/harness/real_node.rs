//! A real node for a harness cluster: Debian's containerd with runc and the CNI bridge, and the
//! upstream kubelet and kube-proxy (built by `scripts/build-real-node.sh`), all inside a network
//! and mount namespace of their own, so that the node's address, bridge, Pod interfaces, iptables
//! rules and mounts vanish with it. A veth pair links the namespace to the host; Pods reach the
//! API server through the `kubernetes` Service at the host's end of that link, where the harness
//! forwards connections to the API server on loopback. Needs root.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::harness::binaries::{run_script, run_setup_script};
use crate::harness::cluster::Cluster;
use crate::harness::component::{Component, lock, with_log_tail};
use crate::harness::simulated_nodes::node_ready;
use crate::harness::wait::{Fatal, wait_until};

/// Names the directory holding prebuilt kubelet and kube-proxy, skipping the package installation
/// and the build.
pub const NODE_BINARY_DIR_ENV: &str = "SOBERANA_REAL_NODE_BIN";

/// The sandbox image every Pod of a harness node starts from; it must be among the archives
/// imported into the node.
pub const SANDBOX_IMAGE: &str = "soberana.test/pause:harness";

/// The Pod network of every node (each node has its own namespace, so they never meet).
const POD_SUBNET: &str = "10.244.0.0/24";

/// How long a node's components may take to come up on two busy cores.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// How long teardown waits for killed processes and their cgroups to go.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the node's programs come from.
#[derive(Debug, Clone)]
pub struct NodeBinaries {
    pub kubelet: PathBuf,
    pub kube_proxy: PathBuf,
}

impl NodeBinaries {
    /// Installs the node's Debian packages and builds kubelet and kube-proxy when missing (both
    /// steps are idempotent and print their progress to standard error).
    pub fn locate() -> Result<Self> {
        if !running_as_root() {
            bail!("a real node needs root (containerd, network namespaces, cgroups)");
        }
        let directory = match std::env::var_os(NODE_BINARY_DIR_ENV) {
            Some(directory) => PathBuf::from(directory),
            None => {
                run_setup_script("install-node-packages.sh")?;
                run_script("build-real-node.sh")?
            }
        };
        let binaries = Self {
            kubelet: directory.join("kubelet"),
            kube_proxy: directory.join("kube-proxy"),
        };
        for binary in [&binaries.kubelet, &binaries.kube_proxy] {
            if !binary.is_file() {
                bail!(
                    "node binary {} is missing; unset {NODE_BINARY_DIR_ENV} or run e2e/scripts/build-real-node.sh",
                    binary.display()
                );
            }
        }
        for program in ["containerd", "ctr", "runc", "unshare", "nsenter", "ip"] {
            if !on_path(program) {
                bail!("{program} is not on PATH; run e2e/scripts/install-node-packages.sh as root");
            }
        }
        Ok(binaries)
    }
}

/// What a real node runs.
#[derive(Debug, Clone, Default)]
pub struct RealNodeOptions {
    /// OCI image archives imported into the node before its kubelet starts; one of them must
    /// be the sandbox image.
    pub images: Vec<PathBuf>,
    /// The image every Pod's sandbox starts from (containerd's `sandbox_image`), e.g. `make
    /// images`' `docker.io/soberana/pause:<version>`; `None`: the harness's own [`SANDBOX_IMAGE`].
    pub sandbox_image: Option<String>,
}

impl RealNodeOptions {
    /// The sandbox image the node's containerd is configured with.
    pub fn sandbox_image(&self) -> &str {
        self.sandbox_image.as_deref().unwrap_or(SANDBOX_IMAGE)
    }
}

/// A running real node. Everything it started stops when it is dropped, and nothing of it
/// remains: processes (found by the node's directory and cgroups), mounts, interfaces, cgroups.
#[derive(Debug)]
pub struct RealNode {
    name: String,
    address: Ipv4Addr,
    directory: PathBuf,
    footprint: NodeFootprint,
    kube_proxy: Mutex<Component>,
    kubelet: Mutex<Component>,
    containerd: Mutex<Component>,
    namespace: Mutex<Option<NamespaceHolder>>,
    forwarder: Option<JoinHandle<()>>,
}

/// What a node may leave behind, to check that it left nothing.
#[derive(Debug, Clone)]
pub struct NodeFootprint {
    pub directory: PathBuf,
    pub interface: String,
    pub cgroup_root: String,
}

/// The process that keeps the node's namespaces alive: it waits on its standard input, so it ends
/// when the harness closes that pipe or dies.
#[derive(Debug)]
struct NamespaceHolder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl RealNode {
    /// Starts the node `name` for `cluster`, linked to the host at `host_address` (the host end;
    /// the node gets the next address of the /30), imports `options.images` and waits until the
    /// Node is Ready.
    pub async fn start(
        cluster: &Cluster,
        name: &str,
        host_address: Ipv4Addr,
        binaries: &NodeBinaries,
        options: &RealNodeOptions,
    ) -> Result<Self> {
        let started = Instant::now();
        for root in tokio::task::spawn_blocking(remove_abandoned_nodes).await? {
            eprintln!("harness: removed the abandoned node cgroup /{root} and its processes");
        }
        let progress = |step: &str| {
            eprintln!(
                "harness: node {name}: {step} ({:.1}s)",
                started.elapsed().as_secs_f64()
            );
        };
        let directory = cluster
            .directory()
            .parent()
            .context("a cluster directory has a parent")?
            .join(name);
        std::fs::create_dir_all(&directory)
            .with_context(|| format!("creating {}", directory.display()))?;
        let node_address = node_address(host_address);
        let interface = format!("sbn{:08x}", u32::from(host_address));
        let cgroup_root = cgroup_root_of(name, host_address);
        let footprint = NodeFootprint {
            directory: directory.clone(),
            interface: interface.clone(),
            cgroup_root: cgroup_root.clone(),
        };
        let api_port = api_port(cluster.server())?;

        let holder = NamespaceHolder::start(&directory)?;
        let pid = holder.child.id();
        let [containerd, kubelet, kube_proxy] =
            node_components(&directory, name, pid, node_address, binaries);
        // From here on, a failure tears down what was started: the node drops.
        let mut node = Self {
            name: name.to_owned(),
            address: node_address,
            directory: directory.clone(),
            footprint,
            kube_proxy: Mutex::new(kube_proxy),
            kubelet: Mutex::new(kubelet),
            containerd: Mutex::new(containerd),
            namespace: Mutex::new(Some(holder)),
            forwarder: None,
        };
        link(&interface, pid, host_address, node_address)?;
        create_cgroup_root(&cgroup_root)?;
        write_node_files(
            &directory,
            cluster,
            name,
            host_address,
            api_port,
            options.sandbox_image(),
        )?;
        node.forwarder = Some(forward(host_address, api_port, api_port).await?);
        progress(&format!(
            "namespace, link {host_address} ↔ {node_address} and cgroup /{cgroup_root} ready"
        ));

        node.start_containerd().await?;
        progress("containerd serving");
        for archive in &options.images {
            node.import_image(archive).await?;
        }
        progress(&format!("{} image archives imported", options.images.len()));
        lock(&node.kubelet).start()?;
        lock(&node.kube_proxy).start()?;
        node.wait_ready(cluster).await?;
        progress("Node Ready");
        Ok(node)
    }

    /// The Node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's address (its InternalIP): the host reaches its NodePorts there.
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// Where the node keeps its configuration, state and logs.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// What the node could leave behind, for checking after it is dropped.
    pub fn footprint(&self) -> &NodeFootprint {
        &self.footprint
    }

    /// Imports an OCI image archive into the node's containerd (`k8s.io` namespace, where the
    /// kubelet finds it; Pods use it with `imagePullPolicy: IfNotPresent`).
    pub async fn import_image(&self, archive: &Path) -> Result<()> {
        let output = tokio::process::Command::new("ctr")
            .arg(format!(
                "--address={}",
                self.directory.join("containerd.sock").display()
            ))
            .args(["--namespace=k8s.io", "images", "import"])
            .arg(archive)
            .stdin(Stdio::null())
            .output()
            .await
            .context("running ctr")?;
        if !output.status.success() {
            bail!(
                "importing {} into node {}: ctr {}: {}",
                archive.display(),
                self.name,
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Gives the image `source` (already in the node) a second reference `target`, as a registry
    /// serving the same image under a new tag would.
    pub async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        let output = tokio::process::Command::new("ctr")
            .arg(format!(
                "--address={}",
                self.directory.join("containerd.sock").display()
            ))
            .args([
                "--namespace=k8s.io",
                "images",
                "tag",
                "--force",
                source,
                target,
            ])
            .stdin(Stdio::null())
            .output()
            .await
            .context("running ctr")?;
        if !output.status.success() {
            bail!(
                "tagging {source} as {target} in node {}: ctr {}: {}",
                self.name,
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Stops the kubelet, as when a node fails: its Node turns NotReady once the node-lifecycle
    /// controller's grace period has passed. Its containers keep running.
    pub fn stop_kubelet(&self) {
        lock(&self.kubelet).stop();
    }

    /// The last `lines` lines of each of the node's logs, for a failure report.
    pub fn log_tails(&self, lines: usize) -> String {
        [&self.containerd, &self.kubelet, &self.kube_proxy]
            .into_iter()
            .map(|component| {
                let component = lock(component);
                format!(
                    "--- node {} / {} ({}) ---\n{}\n",
                    self.name,
                    component.name(),
                    component.log_file().display(),
                    component.log_tail(lines)
                )
            })
            .collect()
    }

    async fn start_containerd(&self) -> Result<()> {
        lock(&self.containerd).start()?;
        let socket = self.directory.join("containerd.sock");
        wait_until(
            &format!("node {}: containerd", self.name),
            READY_TIMEOUT,
            || {
                let exited = lock(&self.containerd).exited();
                let socket = socket.clone();
                async move {
                    if let Some(status) = exited {
                        return Err(Fatal(format!("containerd exited with {status}")).into());
                    }
                    let status = tokio::process::Command::new("ctr")
                        .arg(format!("--address={}", socket.display()))
                        .arg("version")
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .await?;
                    Ok(status.success())
                }
            },
        )
        .await
        .map_err(|error| with_log_tail(&error, &self.containerd))
    }

    async fn wait_ready(&self, cluster: &Cluster) -> Result<()> {
        let nodes: Api<Node> = Api::all(cluster.client().await?);
        wait_until(
            &format!("node {} to be Ready", self.name),
            READY_TIMEOUT,
            || {
                let exited = [&self.kubelet, &self.kube_proxy, &self.containerd]
                    .into_iter()
                    .find_map(|component| {
                        let mut component = lock(component);
                        let status = component.exited()?;
                        Some(format!("{} exited with {status}", component.name()))
                    });
                let nodes = nodes.clone();
                let name = self.name.clone();
                async move {
                    if let Some(exited) = exited {
                        return Err(Fatal(exited).into());
                    }
                    Ok(nodes.get_opt(&name).await?.as_ref().is_some_and(node_ready))
                }
            },
        )
        .await
        .map_err(|error| with_log_tail(&error, &self.kubelet))
    }

    /// Stops everything in order and removes what the node's processes leave outside its
    /// namespaces; each step is best effort, so one failure does not stop the clean-up.
    fn tear_down(&self) {
        lock(&self.kube_proxy).stop();
        lock(&self.kubelet).stop();
        // The containers: every process in the node's cgroups.
        kill_until_gone(|| cgroup_processes(&self.footprint.cgroup_root));
        lock(&self.containerd).stop();
        // containerd's shims outlive it; they (and any other helper) name the node's directory.
        let directory = self.directory.clone();
        kill_until_gone(|| processes_mentioning(&directory));
        if let Some(mut holder) = self
            .namespace
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        {
            holder.stdin.take();
            let _ = holder.child.kill();
            let _ = holder.child.wait();
        }
        remove_cgroup_root(&self.footprint.cgroup_root);
        if let Some(forwarder) = &self.forwarder {
            forwarder.abort();
        }
    }
}

impl Drop for RealNode {
    fn drop(&mut self) {
        let started = Instant::now();
        self.tear_down();
        eprintln!(
            "harness: node {}: torn down ({:.1}s)",
            self.name,
            started.elapsed().as_secs_f64()
        );
    }
}

impl NodeFootprint {
    /// What of the node remains on the host: processes naming its directory, mounts under it,
    /// its link's host end, its cgroups. Empty after a clean teardown.
    pub fn leftovers(&self) -> Vec<String> {
        let mut found: Vec<String> = processes_mentioning(&self.directory)
            .into_iter()
            .map(|pid| {
                let command_line = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
                    .unwrap_or_default();
                format!("process {pid}: {command_line}")
            })
            .collect();
        let directory = format!("{}/", self.directory.display());
        if let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") {
            found.extend(
                mounts
                    .lines()
                    .filter(|line| line.contains(&directory))
                    .map(|line| format!("mount: {line}")),
            );
        }
        if Path::new("/sys/class/net").join(&self.interface).exists() {
            found.push(format!("interface {}", self.interface));
        }
        found.extend(
            cgroup_hierarchies()
                .into_iter()
                .map(|hierarchy| hierarchy.join(&self.cgroup_root))
                .filter(|cgroup| cgroup.exists())
                .map(|cgroup| format!("cgroup {}", cgroup.display())),
        );
        found
    }
}

impl NamespaceHolder {
    /// Starts `unshare` with a new network and mount namespace in which the node's runtime
    /// directories are private tmpfs mounts, and waits until it is set up.
    fn start(directory: &Path) -> Result<Self> {
        // containerd's shim sockets, CRI's Pod network namespaces and the CNI cache use fixed
        // paths: inside the namespace, each is a private tmpfs that vanishes with it.
        let script = "set -e
for private in /run/containerd /run/netns /var/lib/cni; do
  mkdir -p \"$private\"
  mount -t tmpfs -o mode=0755 tmpfs \"$private\"
done
ip link set lo up
echo ready
read -r _ || true";
        let log = std::fs::File::create(directory.join("namespace.log"))?;
        let mut child = Command::new("unshare")
            .args([
                "--mount",
                "--net",
                "--propagation=private",
                "--",
                "sh",
                "-c",
            ])
            .arg(script)
            .arg("node-namespace")
            // With a trailing slash, as every path of the node's files: the teardown finds the
            // node's processes by it, and no other node's (whose name may extend this one's).
            .arg(format!("{}/", directory.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("starting unshare for the node's namespaces")?;
        std::fs::write(directory.join("namespace.pid"), child.id().to_string())?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        let stdout = child.stdout.take().context("unshare's standard output")?;
        BufReader::new(stdout).read_line(&mut line)?;
        let mut holder = Self { child, stdin };
        if line.trim() != "ready" {
            let _ = holder.child.kill();
            let _ = holder.child.wait();
            bail!(
                "setting up the node's namespaces failed: {}",
                std::fs::read_to_string(directory.join("namespace.log")).unwrap_or_default()
            );
        }
        Ok(holder)
    }
}

impl Drop for NamespaceHolder {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Picks a free /30 in 172.31.0.0/16 for a node's link and returns the host's end.
pub fn allocate_link_address() -> Result<Ipv4Addr> {
    let routes = command_output("ip", &["-4", "route", "show", "table", "all"])?;
    let addresses = command_output("ip", &["-4", "-o", "address", "show"])?;
    let used: BTreeSet<&str> = routes
        .split_whitespace()
        .chain(addresses.split_whitespace())
        .collect();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos()
        ^ std::process::id();
    for attempt in 0..1000u32 {
        let block = (seed.wrapping_add(attempt.wrapping_mul(7919))) % 16_384;
        let network = Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 31, 0, 0)) + block * 4);
        let host = Ipv4Addr::from(u32::from(network) + 1);
        if !used.contains(format!("{network}/30").as_str())
            && !used
                .iter()
                .any(|word| word.starts_with(&format!("{host}/")))
        {
            return Ok(host);
        }
    }
    bail!("no free /30 for a node link in 172.31.0.0/16")
}

fn node_address(host_address: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(host_address) + 1)
}

/// Creates the veth pair: the host end keeps `host`, the end inside the namespace (`eth0`) gets
/// `node` and routes everything through the host.
fn link(interface: &str, pid: u32, host: Ipv4Addr, node: Ipv4Addr) -> Result<()> {
    let pid = pid.to_string();
    run(
        "ip",
        &[
            "link", "add", interface, "type", "veth", "peer", "name", "eth0", "netns", &pid,
        ],
    )?;
    run(
        "ip",
        &["address", "add", &format!("{host}/30"), "dev", interface],
    )?;
    run("ip", &["link", "set", interface, "up"])?;
    let inside = |arguments: &[&str]| {
        let mut all = vec!["--target", &pid, "--net", "--", "ip"];
        all.extend(arguments);
        run("nsenter", &all)
    };
    inside(&["address", "add", &format!("{node}/30"), "dev", "eth0"])?;
    inside(&["link", "set", "eth0", "up"])?;
    inside(&["route", "add", "default", "via", &host.to_string()])
}

/// Forwards connections to a host-side address of a node's link to a port on loopback, where
/// the harness's servers listen: Pods on the node reach them there. Stops when dropped.
#[derive(Debug)]
pub struct LoopbackForward {
    address: std::net::SocketAddrV4,
    task: JoinHandle<()>,
}

impl LoopbackForward {
    /// Listens on `host:port` (`host`: the host end of a node's link) and forwards every
    /// connection to `127.0.0.1:port`.
    pub async fn start(host: Ipv4Addr, port: u16) -> Result<Self> {
        Ok(Self {
            address: std::net::SocketAddrV4::new(host, port),
            task: forward(host, port, port).await?,
        })
    }

    /// The address Pods dial.
    pub fn address(&self) -> std::net::SocketAddrV4 {
        self.address
    }
}

impl Drop for LoopbackForward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Forwards connections to `host:port` (the host end of a node's link) to `127.0.0.1:target`
/// (for the node itself: the API server, which advertises that address).
async fn forward(host: Ipv4Addr, port: u16, target: u16) -> Result<JoinHandle<()>> {
    let listener = TcpListener::bind((host, port))
        .await
        .with_context(|| format!("listening on {host}:{port} for the node's traffic"))?;
    Ok(tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    }))
}

/// containerd, the kubelet and kube-proxy, each entering the node's namespaces with `nsenter`
/// (which then runs the program itself, so the component's pid is the program's).
fn node_components(
    directory: &Path,
    name: &str,
    pid: u32,
    node_address: Ipv4Addr,
    binaries: &NodeBinaries,
) -> [Component; 3] {
    let enter = |binary: &Path, arguments: Vec<String>| -> Vec<String> {
        let mut all = vec![
            format!("--target={pid}"),
            "--net".to_owned(),
            "--mount".to_owned(),
            "--".to_owned(),
            binary.display().to_string(),
        ];
        all.extend(arguments);
        all
    };
    let nsenter = Path::new("nsenter");
    let containerd = Component::new(
        "containerd",
        nsenter,
        enter(
            Path::new("containerd"),
            vec![format!(
                "--config={}",
                directory.join("containerd.toml").display()
            )],
        ),
        directory,
    );
    let kubelet = Component::new(
        "kubelet",
        nsenter,
        enter(
            &binaries.kubelet,
            kubelet_arguments(directory, name, node_address),
        ),
        directory,
    );
    let kube_proxy = Component::new(
        "kube-proxy",
        nsenter,
        enter(
            &binaries.kube_proxy,
            vec![
                format!("--kubeconfig={}", directory.join("kubeconfig").display()),
                format!("--hostname-override={name}"),
                "--proxy-mode=iptables".to_owned(),
                format!("--cluster-cidr={POD_SUBNET}"),
                // The host's conntrack limits are not the node's to change.
                "--conntrack-max-per-core=0".to_owned(),
                "--conntrack-tcp-timeout-established=0s".to_owned(),
                "--conntrack-tcp-timeout-close-wait=0s".to_owned(),
            ],
        ),
        directory,
    );
    [containerd, kubelet, kube_proxy]
}

fn write_node_files(
    directory: &Path,
    cluster: &Cluster,
    name: &str,
    host_address: Ipv4Addr,
    api_port: u16,
    sandbox_image: &str,
) -> Result<()> {
    let pki = cluster.pki();
    // The administrator's credentials (a harness cluster has no Node authorizer); the serving
    // certificate names `kubernetes`, not the link's address.
    let kubeconfig = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {cluster}
  cluster:
    server: https://{host_address}:{api_port}
    tls-server-name: kubernetes
    certificate-authority-data: {ca}
users:
- name: {name}
  user:
    client-certificate-data: {certificate}
    client-key-data: {key}
contexts:
- name: {cluster}
  context:
    cluster: {cluster}
    user: {name}
current-context: {cluster}
",
        cluster = cluster.name(),
        ca = STANDARD.encode(&pki.ca_certificate_pem),
        certificate = STANDARD.encode(&pki.admin.certificate_pem),
        key = STANDARD.encode(&pki.admin.key_pem),
    );
    write(&directory.join("kubeconfig"), &kubeconfig)?;
    write(
        &directory.join("containerd.toml"),
        &containerd_config(directory, sandbox_image),
    )?;
    std::fs::create_dir_all(directory.join("cni"))?;
    write(
        &directory.join("cni/10-harness.conflist"),
        &cni_config(directory),
    )?;
    write(
        &directory.join("kubelet.yaml"),
        &kubelet_config(directory, &cgroup_root_of(name, host_address)),
    )
}

/// containerd's own root, state and socket under the node's directory; the CRI plugin with runc,
/// cgroupfs and the node's CNI configuration.
fn containerd_config(directory: &Path, sandbox_image: &str) -> String {
    let path = |relative: &str| directory.join(relative).display().to_string();
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  # This machine may lack CAP_SYS_RESOURCE: without it runc cannot set oom_score_adj=-998.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
"#,
        root = path("containerd/root"),
        state = path("containerd/state"),
        socket = path("containerd.sock"),
        opt = path("containerd/opt"),
        cni = path("cni"),
    )
}

/// A bridge with masquerading, so that Pods reach the host (and the API server) as the node.
fn cni_config(directory: &Path) -> String {
    let path = |relative: &str| directory.join(relative).display().to_string();
    format!(
        r#"{{"cniVersion": "0.4.0", "name": "harness", "plugins": [{{
  "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
  "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "{POD_SUBNET}"}}]],
           "routes": [{{"dst": "0.0.0.0/0"}}], "dataDir": "{ipam}"}}
}}]}}
"#,
        ipam = path("cni/ipam"),
    )
}

fn kubelet_config(directory: &Path, cgroup_root: &str) -> String {
    let path = |relative: &str| directory.join(relative).display().to_string();
    format!(
        "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine's cgroups are v1 (a hybrid layout); kubelet 1.36 refuses them unless told.
failCgroupV1: false
# containerd 1.6 cannot tell the kubelet its cgroup driver.
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup_root}
containerRuntimeEndpoint: unix://{socket}
failSwapOn: false
podLogsDir: {pod_logs}
# Reached only from the host, through the node's link: the API server presents no client
# certificate to the kubelet in the harness.
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
readOnlyPort: 0
resolvConf: /etc/resolv.conf
serializeImagePulls: false
# Shared CI disks and memory must not evict the test's Pods.
evictionHard:
  memory.available: 1Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 50
",
        socket = path("containerd.sock"),
        pod_logs = path("pod-logs"),
    )
}

/// `soberana-<owner pid>-<link>-<node>`: the owner's pid lets a later run find the cgroups of a
/// node whose harness was killed before it could tear it down.
fn cgroup_root_of(name: &str, host_address: Ipv4Addr) -> String {
    format!(
        "{CGROUP_PREFIX}{}-{:08x}-{name}",
        std::process::id(),
        u32::from(host_address)
    )
}

const CGROUP_PREFIX: &str = "soberana-";

/// Tears down what nodes of killed harness processes left: the processes in their cgroups, the
/// processes naming their run directories (containerd shims, a kubelet not yet reaped), and the
/// cgroups. Returns the cgroup roots it removed. Runs before a node starts.
pub fn remove_abandoned_nodes() -> Vec<String> {
    let mut abandoned = BTreeSet::new();
    for hierarchy in cgroup_hierarchies() {
        for entry in std::fs::read_dir(&hierarchy)
            .into_iter()
            .flatten()
            .flatten()
        {
            let root = entry.file_name().to_string_lossy().into_owned();
            let owner = root
                .strip_prefix(CGROUP_PREFIX)
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            if let Some(owner) = owner
                && !Path::new(&format!("/proc/{owner}")).exists()
            {
                abandoned.insert((owner, root));
            }
        }
    }
    for (owner, root) in &abandoned {
        kill_until_gone(|| cgroup_processes(root));
        let runs = std::env::temp_dir().join(format!("soberana-e2e/run-{owner}-"));
        kill_until_gone(|| processes_mentioning_text(&runs.to_string_lossy()));
        remove_cgroup_root(root);
    }
    abandoned.into_iter().map(|(_, root)| root).collect()
}

fn kubelet_arguments(directory: &Path, name: &str, node_address: Ipv4Addr) -> Vec<String> {
    vec![
        format!("--config={}", directory.join("kubelet.yaml").display()),
        format!("--kubeconfig={}", directory.join("kubeconfig").display()),
        format!("--root-dir={}", directory.join("kubelet").display()),
        format!("--hostname-override={name}"),
        format!("--node-ip={node_address}"),
    ]
}

/// Every cgroup v1 hierarchy and the cgroup2 mount under /sys/fs/cgroup.
fn cgroup_hierarchies() -> Vec<PathBuf> {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return Vec::new();
    };
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, target, kind) = (fields.next()?, fields.next()?, fields.next()?);
            (kind == "cgroup" || kind == "cgroup2").then(|| PathBuf::from(target))
        })
        .collect()
}

/// Creates the node's cgroup root in every hierarchy (the kubelet requires it to exist), with
/// the CPUs and memory nodes of its parent in the cpuset hierarchy.
fn create_cgroup_root(root: &str) -> Result<()> {
    for hierarchy in cgroup_hierarchies() {
        let cgroup = hierarchy.join(root);
        std::fs::create_dir_all(&cgroup)
            .with_context(|| format!("creating cgroup {}", cgroup.display()))?;
        for inherited in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(value) = std::fs::read_to_string(hierarchy.join(inherited)) {
                std::fs::write(cgroup.join(inherited), value.trim())
                    .with_context(|| format!("writing {}", cgroup.join(inherited).display()))?;
            }
        }
    }
    Ok(())
}

/// The processes in the node's cgroups, in any hierarchy.
fn cgroup_processes(root: &str) -> Vec<i32> {
    let mut pids = BTreeSet::new();
    for hierarchy in cgroup_hierarchies() {
        for cgroup in cgroup_tree(&hierarchy.join(root)) {
            if let Ok(text) = std::fs::read_to_string(cgroup.join("cgroup.procs")) {
                pids.extend(
                    text.lines()
                        .filter_map(|line| line.trim().parse::<i32>().ok()),
                );
            }
        }
    }
    pids.into_iter().collect()
}

/// A cgroup and its descendants, deepest first.
fn cgroup_tree(cgroup: &Path) -> Vec<PathBuf> {
    let mut tree = Vec::new();
    if let Ok(entries) = std::fs::read_dir(cgroup) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                tree.extend(cgroup_tree(&entry.path()));
            }
        }
    }
    if cgroup.is_dir() {
        tree.push(cgroup.to_owned());
    }
    tree
}

/// Removes the node's cgroups, deepest first, waiting briefly for killed processes to leave.
fn remove_cgroup_root(root: &str) {
    let deadline = Instant::now() + TEARDOWN_TIMEOUT;
    loop {
        let mut remaining = false;
        for hierarchy in cgroup_hierarchies() {
            for cgroup in cgroup_tree(&hierarchy.join(root)) {
                if std::fs::remove_dir(&cgroup).is_err() && cgroup.exists() {
                    remaining = true;
                }
            }
        }
        if !remaining || Instant::now() >= deadline {
            if remaining {
                eprintln!("harness: cgroups /{root} could not all be removed");
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Processes (other than this one) whose command line names `directory`.
fn processes_mentioning(directory: &Path) -> Vec<i32> {
    processes_mentioning_text(&format!("{}/", directory.display()))
}

/// Processes (other than this one) whose command line contains `needle`.
fn processes_mentioning_text(needle: &str) -> Vec<i32> {
    let own = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(needle))
        })
        .filter_map(|pid| i32::try_from(pid).ok())
        .collect()
}

/// SIGKILLs what `find` returns until it returns nothing or the teardown deadline passes.
fn kill_until_gone(find: impl Fn() -> Vec<i32>) {
    let deadline = Instant::now() + TEARDOWN_TIMEOUT;
    loop {
        let pids = find();
        if pids.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!("harness: processes {pids:?} survived SIGKILL");
            return;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn api_port(server: &str) -> Result<u16> {
    server
        .rsplit(':')
        .next()
        .and_then(|port| port.trim_end_matches('/').parse().ok())
        .with_context(|| format!("no port in the API server's URL {server}"))
}

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

fn run(program: &str, arguments: &[&str]) -> Result<()> {
    command_output(program, arguments).map(drop)
}

fn command_output(program: &str, arguments: &[&str]) -> Result<String> {
    let output = Command::new(program)
        .args(arguments)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {program}"))?;
    if !output.status.success() {
        bail!(
            "{program} {} failed with {}: {}",
            arguments.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|directory| directory.join(program).is_file())
    })
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|uids| uids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Builds the harness's own node images from `probe` (the `soberana-node-probe` program) into
/// `directory`: [`SANDBOX_IMAGE`] and [`PROBE_IMAGE`]. Returns the archives.
pub fn build_probe_images(probe: &Path, directory: &Path) -> Result<Vec<PathBuf>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pack-oci-image.sh");
    let mut archives = Vec::new();
    for (file, reference, mode) in [
        ("pause.tar", SANDBOX_IMAGE, "pause"),
        ("probe.tar", PROBE_IMAGE, "serve"),
    ] {
        let archive = directory.join(file);
        let status = Command::new(&script)
            .arg(&archive)
            .arg(reference)
            .arg(probe)
            .arg(mode)
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("running {}", script.display()))?;
        if !status.success() {
            bail!("packing {reference} from {} failed", probe.display());
        }
        archives.push(archive);
    }
    Ok(archives)
}

/// An image whose program reports, on HTTP port 8080 and in its log, the identity the API server
/// gave its ServiceAccount token (see `soberana-node-probe serve`).
pub const PROBE_IMAGE: &str = "soberana.test/probe:harness";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_port_comes_from_the_server_url() {
        assert_eq!(api_port("https://127.0.0.1:41234").unwrap(), 41234);
        assert!(api_port("https://127.0.0.1").is_err());
    }

    #[test]
    fn the_node_takes_the_address_after_the_host_end() {
        assert_eq!(
            node_address(Ipv4Addr::new(172, 31, 4, 1)),
            Ipv4Addr::new(172, 31, 4, 2)
        );
    }
}
