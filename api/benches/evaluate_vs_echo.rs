//! `PlacementService.Evaluate` through the real API (bearer-token authentication and
//! authorization against a real API server, inventory watched from it, reservations read from a
//! real etcd, the engine, the conversions) against a bare tonic server answering the same RPC with
//! an empty response, built from the same tonic, on loopback, plaintext both, in the same run.
//!
//! Two measurements per server: the most calls per second with 16 calls in flight, and latency at
//! a fixed rate (half the API's maximum) offered to both. Prints the ratios the goal is stated
//! in: API throughput ≥ 50 % of the echo server's, API p99 ≤ 2 × echo p99 at the same rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use soberana_api::server::serve::{Settings, TlsFiles, serve};
use soberana_api::store::etcd::EtcdStore;
use soberana_e2e::ControlPlane;
use soberana_e2e::agency_access::agency_token;
use soberana_e2e::etcd_server::EtcdServer;
use soberana_e2e::soberana_install::service_account_token;
use soberana_e2e::soberana_manifests::{apply_directory, examples_directory, install_crds};
use soberana_proto::v1 as proto;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};

const IN_FLIGHT: usize = 16;
const RUN: Duration = Duration::from_secs(5);

/// The baseline: the same RPC, answered at once.
struct Echo;

#[tonic::async_trait]
impl proto::placement_service_server::PlacementService for Echo {
    async fn evaluate(
        &self,
        _request: Request<proto::EvaluateRequest>,
    ) -> Result<Response<proto::EvaluateResponse>, Status> {
        Ok(Response::new(proto::EvaluateResponse::default()))
    }
}

fn request(token: &str) -> Request<proto::EvaluateRequest> {
    let mut request = Request::new(proto::EvaluateRequest {
        namespace: "minsa-prod".to_owned(),
        workload: Some(proto::WorkloadSpec {
            tenant: "ministry-of-health".to_owned(),
            classification: "confidential".to_owned(),
            resources: Some(proto::Capacity {
                cpu_millicores: 500,
                memory_mebibytes: 1024,
                storage_gibibytes: 10,
            }),
            replicas: 2,
            availability_target: "99.9".to_owned(),
            ..proto::WorkloadSpec::default()
        }),
    });
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Calls completed per second with `IN_FLIGHT` callers for `RUN`.
async fn throughput(channel: &Channel, token: &str) -> Result<f64> {
    let deadline = Instant::now() + RUN;
    let callers = (0..IN_FLIGHT).map(|_| {
        let mut client =
            proto::placement_service_client::PlacementServiceClient::new(channel.clone());
        let token = token.to_owned();
        tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                client.evaluate(request(&token)).await?;
                done += 1;
            }
            anyhow::Ok(done)
        })
    });
    let mut total = 0;
    for caller in futures::future::join_all(callers).await {
        total += caller??;
    }
    Ok(total as f64 / RUN.as_secs_f64())
}

/// Latencies (sorted) of calls started at `rate` per second for `RUN`, whatever their answers
/// take (open loop).
async fn at_rate(channel: &Channel, token: &str, rate: f64) -> Result<Vec<Duration>> {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let calls = (RUN.as_secs_f64() * rate) as usize;
    let started = Instant::now();
    let mut handles = Vec::with_capacity(calls);
    for index in 0..calls {
        let due = started + interval * u32::try_from(index)?;
        tokio::time::sleep_until(due.into()).await;
        let mut client =
            proto::placement_service_client::PlacementServiceClient::new(channel.clone());
        let token = token.to_owned();
        handles.push(tokio::spawn(async move {
            let sent = Instant::now();
            client.evaluate(request(&token)).await?;
            anyhow::Ok(sent.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(calls);
    for handle in handles {
        latencies.push(handle.await??);
    }
    latencies.sort();
    Ok(latencies)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

async fn channel(port: u16) -> Result<Channel> {
    for _ in 0..100 {
        if let Ok(channel) = Channel::from_shared(format!("http://127.0.0.1:{port}"))?
            .connect()
            .await
        {
            return Ok(channel);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("nothing listens on {port}")
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::main]
async fn main() -> Result<()> {
    eprintln!("starting a management API server and etcd from the harness…");
    let plane = ControlPlane::start(&["mgmt"]).await?;
    let cluster = plane.cluster("mgmt")?;
    let admin = cluster.client().await?;
    install_crds(&admin).await?;
    apply_directory(&admin, &examples_directory())
        .await
        .context("applying examples/")?;
    let agency = agency_token(&admin, "minsa-prod", "bench-tool").await?;
    let etcd = EtcdServer::start().await?;
    let store = EtcdStore::connect(&[etcd.endpoint()], "/soberana/").await?;
    let api_token =
        service_account_token(cluster, "api-management-cluster.yaml", "soberana-api").await?;
    let api_client = cluster.client_with_token(&api_token).await?;
    let api_port = free_port()?;
    let settings = Settings {
        address: format!("127.0.0.1:{api_port}").parse()?,
        metrics_address: format!("127.0.0.1:{}", free_port()?).parse()?,
        tls: TlsFiles::default(),
    };
    tokio::spawn(serve(
        settings,
        api_client,
        Arc::new(store),
        std::future::pending(),
    ));
    let echo_port = free_port()?;
    let echo_address = format!("127.0.0.1:{echo_port}").parse()?;
    tokio::spawn(
        Server::builder()
            .add_service(proto::placement_service_server::PlacementServiceServer::new(Echo))
            .serve(echo_address),
    );
    let api = channel(api_port).await?;
    let echo = channel(echo_port).await?;
    // Warm up: the inventory loads, the first review is cached, connections open.
    for _ in 0..50 {
        proto::placement_service_client::PlacementServiceClient::new(api.clone())
            .evaluate(request(&agency))
            .await
            .context("a warm-up Evaluate through the API")?;
    }

    let api_rps = throughput(&api, &agency).await?;
    let echo_rps = throughput(&echo, &agency).await?;
    let rate = (api_rps / 2.0).max(10.0);
    let api_latency = at_rate(&api, &agency, rate).await?;
    let echo_latency = at_rate(&echo, &agency, rate).await?;
    let (api_p50, api_p99) = (
        percentile(&api_latency, 0.50),
        percentile(&api_latency, 0.99),
    );
    let (echo_p50, echo_p99) = (
        percentile(&echo_latency, 0.50),
        percentile(&echo_latency, 0.99),
    );

    println!(
        "Evaluate through soberana-api vs a bare tonic server, loopback, plaintext, {IN_FLIGHT} in flight, {}s per run",
        RUN.as_secs()
    );
    println!("{:<14} {:>12} {:>12} {:>12}", "", "calls/s", "p50", "p99");
    println!(
        "{:<14} {:>12.0} {:>12.2?} {:>12.2?}",
        "soberana-api", api_rps, api_p50, api_p99
    );
    println!(
        "{:<14} {:>12.0} {:>12.2?} {:>12.2?}",
        "echo", echo_rps, echo_p50, echo_p99
    );
    println!(
        "latency at a fixed {rate:.0} calls/s offered to both ({} calls each)",
        api_latency.len()
    );
    println!(
        "throughput ratio {:.2} (goal ≥ 0.50); p99 ratio {:.2} (goal ≤ 2.00)",
        api_rps / echo_rps,
        api_p99.as_secs_f64() / echo_p99.as_secs_f64().max(1e-9)
    );
    Ok(())
}
