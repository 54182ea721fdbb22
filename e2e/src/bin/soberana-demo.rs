//! `make demo`: brings up a local state data centre, one real Kubernetes cluster per site, prints
//! how to reach each site, checks that every site answers, and stays up until Ctrl-C.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use soberana_e2e::api_showcase::RunningApi;
use soberana_e2e::etcd_server::EtcdServer;
use soberana_e2e::operator_process::{OperatorProcess, OperatorSettings};
use soberana_e2e::simulated_nodes::NodeShape;
use soberana_e2e::{
    Cluster, ControlPlane, api_showcase, convergence_report, exchange_showcase, residency_showcase,
    soberana_install, soberana_manifests, workload_showcase, workspace_binaries,
};
use tokio::signal::unix::{SignalKind, signal};

/// Prints a line to standard output, ignoring a closed pipe (`soberana-demo | head` must not
/// abort the teardown).
macro_rules! say {
    ($($argument:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($argument)*);
    }};
}

/// Run a local state data centre: one real Kubernetes cluster (etcd, kube-apiserver,
/// kube-controller-manager) per site, on loopback.
#[derive(Debug, Parser)]
#[command(name = "soberana-demo")]
struct Arguments {
    /// Sites to start, comma-separated: the management cluster first, then the member sites.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = DEFAULT_SITES
    )]
    sites: Vec<String>,
    /// Exit (and tear everything down) after the checks instead of waiting for Ctrl-C.
    #[arg(long)]
    once: bool,
    /// Leave the management cluster empty instead of installing Soberana's CRDs and the
    /// example scenario (examples/) into it.
    #[arg(long)]
    without_examples: bool,
    /// After everything converged, stop this site's API server and show its workloads failing
    /// over (or staying, degraded, where nothing else may host them).
    #[arg(long)]
    fail_site: Option<String>,
    /// The soberana-operator binary (default: next to this one, as `cargo build` puts it).
    #[arg(long)]
    operator: Option<PathBuf>,
    /// How long to wait for sites and tenants to converge, in seconds.
    #[arg(long, default_value_t = 300)]
    converge_timeout: u64,
}

/// The site that holds Soberana's own objects.
const MANAGEMENT_SITE: &str = "mgmt";
/// The management cluster and one cluster per example site (examples/sites.yaml).
const DEFAULT_SITES: &str = "mgmt,state-dc-primary,state-dc-alternate,national-cloud,public-cloud-cr,public-cloud-us,public-cloud-br";

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("soberana-demo: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(arguments)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("soberana-demo: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(arguments: Arguments) -> Result<()> {
    check_arguments(&arguments)?;
    let plane = start_sites(&arguments.sites).await?;
    print_sites(&plane).await?;
    let soberana = match plane.cluster(MANAGEMENT_SITE) {
        Ok(management) if !arguments.without_examples => {
            Some(run_soberana(&plane, management, &arguments).await?)
        }
        _ => None,
    };
    print_kubectl_access(&plane, &arguments);
    if arguments.once {
        say!("\nChecks passed (--once): stopping the sites.");
        return Ok(());
    }
    say!("\nPress Ctrl-C to stop the sites and remove their files.");
    wait_for_interrupt().await?;
    say!("Stopping the operator and the sites…");
    drop(soberana);
    drop(plane);
    say!("Stopped.");
    Ok(())
}

/// Refuses, before anything starts, site names a cluster cannot carry and a `--fail-site` that
/// would fail nothing (or the management cluster itself).
fn check_arguments(arguments: &Arguments) -> Result<()> {
    if let Some(bad) = arguments.sites.iter().find(|site| !is_dns_label(site)) {
        anyhow::bail!(
            "--sites: {bad:?} is not a DNS label (lowercase letters, digits and '-', at most 63)"
        );
    }
    if let Some(site) = &arguments.fail_site
        && (site == MANAGEMENT_SITE || !arguments.sites.contains(site))
    {
        anyhow::bail!(
            "--fail-site: {site:?} is not one of the member sites this demo starts ({})",
            arguments
                .sites
                .iter()
                .filter(|name| *name != MANAGEMENT_SITE)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// Starts one cluster per site, saying how long it took: the wait a user sees first.
async fn start_sites(sites: &[String]) -> Result<ControlPlane> {
    let started = Instant::now();
    let names: Vec<&str> = sites.iter().map(String::as_str).collect();
    say!("Starting {} sites: {}", names.len(), names.join(", "));
    let plane = ControlPlane::start(&names).await?;
    say!(
        "All sites ready in {:.1}s.\n",
        started.elapsed().as_secs_f64()
    );
    Ok(plane)
}

/// Prints every site's server, Kubernetes version and namespace count, each read from its own
/// API server: the first check that every site answers.
async fn print_sites(plane: &ControlPlane) -> Result<()> {
    say!(
        "{:<19} {:<26} {:<9} NAMESPACES",
        "SITE",
        "SERVER",
        "VERSION"
    );
    for cluster in plane.clusters() {
        let client = cluster.client().await?;
        let version = client
            .apiserver_version()
            .await
            .with_context(|| format!("{}: /version", cluster.name()))?;
        let namespaces = Api::<Namespace>::all(client)
            .list(&Default::default())
            .await
            .with_context(|| format!("{}: listing namespaces", cluster.name()))?;
        say!(
            "{:<19} {:<26} {:<9} {}",
            cluster.name(),
            cluster.server(),
            version.git_version,
            namespaces.items.len()
        );
    }
    Ok(())
}

/// Soberana running on the management cluster; dropping it stops the API (with its etcd), then
/// the operator.
struct Soberana {
    _api: RunningApi,
    _operator: OperatorProcess,
}

/// Installs Soberana and the example scenario on `management`, runs the operator until sites
/// and tenants converge, then shows residency, placements, the API and (`--fail-site`) a
/// failover.
async fn run_soberana(
    plane: &ControlPlane,
    management: &Cluster,
    arguments: &Arguments,
) -> Result<Soberana> {
    let client = management.client().await?;
    install_examples(&client).await?;
    let binary = operator_binary(arguments.operator.as_deref())?;
    let kubeconfig = write_operator_kubeconfig(management).await?;
    // After the management RBAC: it creates the namespace the site Secrets go in.
    let reachable = register_sites(plane, &client).await?;
    // The API's etcd, started first: the operator appends its placement decisions to the
    // ledger the API keeps there.
    let ledger = EtcdServer::start()
        .await
        .context("starting the API's etcd")?;
    let operator = start_operator(&binary, &kubeconfig, management, &ledger).await?;
    let timeout = arguments.converge_timeout;
    if !watch_convergence(&client, &reachable, Duration::from_secs(timeout)).await? {
        say!("{}", operator.log_tail(20));
        anyhow::bail!(
            "sites and tenants did not converge within {timeout}s; see the operator log above"
        );
    }
    for line in residency_showcase::show_refusal(plane, &client).await? {
        say!("{line}");
    }
    for line in workload_showcase::show_placements(&client, Duration::from_secs(120)).await? {
        say!("{line}");
    }
    let members: Vec<String> = reachable.iter().cloned().collect();
    for line in workload_showcase::show_pods(plane, &members).await? {
        say!("{line}");
    }
    for line in exchange_showcase::show_agreements(&client, Duration::from_secs(30)).await? {
        say!("{line}");
    }
    let api = start_api(plane, ledger).await?;
    if let Some(site) = &arguments.fail_site {
        workload_showcase::fail_site(plane, &client, site, Duration::from_secs(240), |line| {
            say!("{line}")
        })
        .await?;
    }
    Ok(Soberana {
        _api: api,
        _operator: operator,
    })
}

/// Installs Soberana's CRDs and the example scenario (examples/) on the management cluster,
/// as a data centre would with `kubectl apply --server-side`.
async fn install_examples(client: &kube::Client) -> Result<()> {
    let definitions = soberana_manifests::install_crds(client)
        .await
        .context("installing crds/")?;
    let examples = soberana_manifests::examples_directory();
    let applied = soberana_manifests::apply_directory(client, &examples)
        .await
        .with_context(|| format!("applying {}", examples.display()))?;
    say!(
        "\nSoberana on {MANAGEMENT_SITE}: {} CRDs and the example scenario ({applied} objects from {}) are installed.",
        definitions.len(),
        examples.display()
    );
    Ok(())
}

/// Writes the operator's kubeconfig, under its least-privilege RBAC (the `soberana` chart's) rather than
/// as cluster admin; returns its path.
async fn write_operator_kubeconfig(management: &Cluster) -> Result<PathBuf> {
    let kubeconfig =
        soberana_install::operator_kubeconfig(management, soberana_install::MANAGEMENT_RBAC)
            .await?;
    let path = management.directory().join("soberana-operator.kubeconfig");
    std::fs::write(&path, kubeconfig).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Starts the operator with short intervals, so the demo converges and fails over in minutes,
/// and waits until it leads.
async fn start_operator(
    binary: &Path,
    kubeconfig: &Path,
    management: &Cluster,
    ledger: &EtcdServer,
) -> Result<OperatorProcess> {
    let mut operator = OperatorProcess::start(
        binary,
        kubeconfig,
        management.directory(),
        "soberana-operator",
        &OperatorSettings {
            probe_interval: 5,
            lease_duration: 15,
            drift_check_interval: 30,
            residency_scan_interval: 30,
            ledger_etcd: Some(ledger.endpoint()),
            ..OperatorSettings::default()
        },
    )?;
    operator
        .wait_for_readiness("leading", Duration::from_secs(60))
        .await?;
    say!(
        "soberana-operator is running (least-privilege RBAC from charts/soberana/files/rbac/; log: {}).\nWaiting for sites and tenants to converge:",
        operator.log_file().display()
    );
    Ok(operator)
}

/// Starts the API on the ledger's etcd and shows an agency planning a migration and a security
/// team verifying the ledger.
async fn start_api(plane: &ControlPlane, ledger: EtcdServer) -> Result<RunningApi> {
    let (api, lines) = api_showcase::start_and_plan(
        plane,
        MANAGEMENT_SITE,
        &workspace_binaries::workspace_binary("soberana-api")?,
        &workspace_binaries::workspace_binary("soberana")?,
        ledger,
    )
    .await?;
    for line in lines {
        say!("{line}");
    }
    Ok(api)
}

/// Prints how to reach each site with `kubectl`, the demo's way in for a user.
fn print_kubectl_access(plane: &ControlPlane, arguments: &Arguments) {
    let kubectl_directory = plane
        .binaries()
        .kubectl
        .parent()
        .map(|dir| dir.display().to_string());
    say!(
        "\nReach each site with kubectl (kubectl {} is in {}):",
        plane.kubernetes_version(),
        kubectl_directory.unwrap_or_default()
    );
    for cluster in plane.clusters() {
        say!(
            "  {:<19} kubectl --kubeconfig {} get ns",
            cluster.name(),
            cluster.kubeconfig().display()
        );
    }
    let all: Vec<String> = plane
        .clusters()
        .iter()
        .map(|cluster| cluster.kubeconfig().display().to_string())
        .collect();
    say!(
        "Or all at once, one context per site:\n  export KUBECONFIG={}",
        all.join(":")
    );
    let last = arguments.sites.last().map_or("", String::as_str);
    say!("  kubectl --context {last} get ns");
    if plane.cluster(MANAGEMENT_SITE).is_ok() && !arguments.without_examples {
        say!("  kubectl --context {MANAGEMENT_SITE} get soberana -A");
        say!("  kubectl --context {MANAGEMENT_SITE} get sites,tenants");
    }
    say!("Logs, PKI and data: {}", plane.directory().display());
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM, so the demo stays up until its user is done.
async fn wait_for_interrupt() -> Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

/// Gives the operator a kubeconfig Secret for every example Site that has a cluster here;
/// returns those sites' names.
async fn register_sites(
    plane: &ControlPlane,
    management: &kube::Client,
) -> Result<BTreeSet<String>> {
    let sites = Api::<DynamicObject>::all_with(
        management.clone(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk("soberana.io", "v1alpha1", "Site")),
    )
    .list(&Default::default())
    .await
    .context("listing Sites")?;
    let mut reachable = BTreeSet::new();
    for site in sites.items {
        let name = site.metadata.name.unwrap_or_default();
        match plane.cluster(&name) {
            Ok(cluster) if name != MANAGEMENT_SITE => {
                soberana_install::register_site_credentials(management, &name, cluster).await?;
                let declared = site.data["spec"]["capacity"]["cpuMillicores"]
                    .as_u64()
                    .unwrap_or_default();
                let nodes = add_nodes(cluster, declared).await?;
                say!(
                    "  Site {name}: {nodes} more simulated nodes of 64 CPUs and 256 GiB (its declared CPU, at most 16)."
                );
                reachable.insert(name);
            }
            _ => {
                say!("  Site {name} has no cluster in this demo: it will be reported unreachable.")
            }
        }
    }
    Ok(reachable)
}

/// Gives a site nodes adding up to its declared CPU (64-CPU nodes, at most 16; the cluster's
/// own small node stays), as a data centre's machines would; returns how many were added.
async fn add_nodes(cluster: &Cluster, declared_millicores: u64) -> Result<u64> {
    const NODE: NodeShape = NodeShape {
        cpu_millicores: 64_000,
        memory_mebibytes: 256 * 1024,
        pods: 110,
    };
    let count = declared_millicores
        .div_ceil(NODE.cpu_millicores)
        .clamp(1, 16);
    let names: Vec<String> = (2..=count + 1)
        .map(|index| format!("{}-node-{index}", cluster.name()))
        .collect();
    let registered = names
        .iter()
        .map(|name| cluster.register_simulated_node(name, NODE));
    futures::future::try_join_all(registered).await?;
    Ok(count)
}

/// Prints the Sites and Tenants whenever they change, until they converge or `timeout` passes.
async fn watch_convergence(
    management: &kube::Client,
    reachable: &BTreeSet<String>,
    timeout: Duration,
) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut last = Vec::new();
    loop {
        let report = convergence_report::report(management, reachable).await?;
        if report.lines != last {
            say!(
                "\n[{:>5.1}s]",
                (timeout - deadline.saturating_duration_since(Instant::now())).as_secs_f64()
            );
            for line in &report.lines {
                say!("  {line}");
            }
            last = report.lines;
        }
        if report.converged {
            say!("Every site is Ready and every tenant is provisioned on it.");
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The operator binary: `--operator`, or `soberana-operator` next to this program.
fn operator_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    match explicit {
        Some(path) => {
            anyhow::ensure!(
                path.is_file(),
                "--operator {}: no such file",
                path.display()
            );
            Ok(path.to_owned())
        }
        None => workspace_binaries::workspace_binary("soberana-operator"),
    }
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}
