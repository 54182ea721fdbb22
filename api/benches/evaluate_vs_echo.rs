//! `PlacementService.Evaluate` through the real API (bearer-token authentication and
//! authorization against a real API server, inventory watched from it, reservations mirrored from
//! a real etcd, the engine, the conversions) against bare tonic servers answering the same RPC at
//! once, built from the same tonic, on loopback, all over TLS (rustls, one self-signed server
//! certificate; the API requires TLS by default), in the same run:
//!
//! - `echo`: answers with an empty message: the baseline the goal is stated against;
//! - `echo+answer`: answers with the very message the API gave for this request (captured before
//!   the measurement), so that the difference to the API is the API's own work, not the size
//!   of a full explained decision on the wire.
//!
//! Two measurements per server: the most calls per second with 16 calls in flight, and latency at
//! fixed rates (10 %, 25 % and 50 % of the API's maximum) offered to each. Each is taken in rounds
//! that alternate between the servers, so that a burst of noise on a shared machine falls on all
//! rather than on whichever ran at that moment. Prints the ratios the goal is stated in: API
//! throughput ≥ 50 % of the echo server's, API p99 ≤ 2 × echo p99 at the same rate.

#![allow(
    clippy::too_many_lines,
    reason = "a benchmark reads top to bottom as one measured scenario"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use prost::Message;
use soberana_api::server::auth::DEFAULT_TOKEN_AUDIENCE;
use soberana_api::server::limits::callers::CallerLimitSettings;
use soberana_api::server::serve::{ReservationLimits, Settings, TlsFiles, serve};
use soberana_api::server::transport_policy::Plaintext;
use soberana_e2e::ControlPlane;
use soberana_e2e::agency_access::agency_token;
use soberana_e2e::etcd_server::EtcdServer;
use soberana_e2e::soberana_install::{API_RBAC, service_account_token};
use soberana_e2e::soberana_manifests::{apply_directory, examples_directory, install_crds};
use soberana_proto::v1 as proto;
use soberana_store::etcd::EtcdStore;
use soberana_store::etcd_security::EtcdSecurity;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

/// The allocator `soberana-api` runs with; the echo server and the load share it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const IN_FLIGHT: usize = 16;
/// Rounds of the throughput measurement, alternating between the servers.
const ROUNDS: u32 = 5;
/// Rounds of each latency measurement: more, because a 99th percentile needs many calls to be
/// more than the machine's noise.
const LATENCY_ROUNDS: u32 = 10;
/// Each server's share of a round.
const RUN: Duration = Duration::from_secs(1);
/// The fixed rates latency is measured at, as fractions of the API's most calls per second.
const RATE_FRACTIONS: [f64; 3] = [0.1, 0.25, 0.5];

/// A baseline: the same RPC, answered at once with `answer`.
struct Echo {
    answer: proto::EvaluateResponse,
}

#[tonic::async_trait]
impl proto::placement_service_server::PlacementService for Echo {
    async fn evaluate(
        &self,
        _request: Request<proto::EvaluateRequest>,
    ) -> Result<Response<proto::EvaluateResponse>, Status> {
        Ok(Response::new(self.answer.clone()))
    }

    /// Not measured: the baseline stands for `Evaluate` only.
    async fn what_if(
        &self,
        _request: Request<proto::WhatIfRequest>,
    ) -> Result<Response<proto::WhatIfResponse>, Status> {
        Err(Status::unimplemented("the baseline answers Evaluate only"))
    }
}

/// Starts a baseline server answering `answer` over TLS with `certificate`; returns its port.
fn start_echo(answer: proto::EvaluateResponse, certificate: &ServerCertificate) -> Result<u16> {
    let port = free_port()?;
    let address = format!("127.0.0.1:{port}").parse()?;
    let tls = ServerTlsConfig::new().identity(Identity::from_pem(
        &certificate.certificate_pem,
        &certificate.key_pem,
    ));
    tokio::spawn(
        Server::builder()
            .tls_config(tls)?
            .add_service(
                proto::placement_service_server::PlacementServiceServer::new(Echo { answer }),
            )
            .serve(address),
    );
    Ok(port)
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

/// Latencies of calls started at `rate` per second for `RUN`, whatever their answers
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
    Ok(latencies)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// A self-signed certificate for 127.0.0.1, in files for the API and in memory for the rest.
struct ServerCertificate {
    certificate_pem: String,
    key_pem: String,
    directory: std::path::PathBuf,
}

impl ServerCertificate {
    fn generate() -> Result<Self> {
        let key = rcgen::KeyPair::generate()?;
        let certificate =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])?.self_signed(&key)?;
        let directory =
            std::env::temp_dir().join(format!("soberana-bench-tls-{}", std::process::id()));
        std::fs::create_dir_all(&directory)?;
        let generated = Self {
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            directory,
        };
        std::fs::write(
            generated.directory.join("server.pem"),
            &generated.certificate_pem,
        )?;
        std::fs::write(
            generated.directory.join("server-key.pem"),
            &generated.key_pem,
        )?;
        Ok(generated)
    }
}

async fn channel(port: u16, certificate: &ServerCertificate) -> Result<Channel> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&certificate.certificate_pem))
        .domain_name("127.0.0.1");
    for _ in 0..100 {
        if let Ok(channel) = Channel::from_shared(format!("https://127.0.0.1:{port}"))?
            .tls_config(tls.clone())?
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
    let store =
        EtcdStore::connect(&[etcd.endpoint()], "/soberana/", &EtcdSecurity::default()).await?;
    let api_token = service_account_token(cluster, API_RBAC, "soberana-api").await?;
    let api_client = cluster.client_with_token(&api_token).await?;
    let api_port = free_port()?;
    let certificate = ServerCertificate::generate()?;
    let settings = Settings {
        address: format!("127.0.0.1:{api_port}").parse()?,
        metrics_address: format!("127.0.0.1:{}", free_port()?).parse()?,
        health_address: None,
        tls: TlsFiles {
            certificate: Some(certificate.directory.join("server.pem")),
            key: Some(certificate.directory.join("server-key.pem")),
            client_ca: None,
        },
        plaintext: Plaintext::Refused,
        token_audience: DEFAULT_TOKEN_AUDIENCE.to_owned(),
        reflection: true,
        reservation_limits: ReservationLimits::default(),
        // Limits in place, never reached: the layer's cost is measured, not its refusals.
        caller_limits: CallerLimitSettings {
            concurrency: u32::MAX,
            rate_per_second: 1e12,
            burst: u32::MAX,
            ..CallerLimitSettings::default()
        },
        checkpoints: None,
        management_request_timeouts: None,
    };
    tokio::spawn(serve(
        settings,
        api_client,
        Arc::new(store),
        std::future::pending(),
    ));
    let api = channel(api_port, &certificate).await?;
    // Warm up: the inventory loads, the first review is cached, connections open.
    let mut answer = proto::EvaluateResponse::default();
    for _ in 0..50 {
        answer = proto::placement_service_client::PlacementServiceClient::new(api.clone())
            .evaluate(request(&agency))
            .await
            .context("a warm-up Evaluate through the API")?
            .into_inner();
    }
    let servers = [
        ("soberana-api", api),
        (
            "echo",
            channel(
                start_echo(proto::EvaluateResponse::default(), &certificate)?,
                &certificate,
            )
            .await?,
        ),
        (
            "echo+answer",
            channel(start_echo(answer.clone(), &certificate)?, &certificate).await?,
        ),
    ];

    let mut most = [0.0; 3];
    for _ in 0..ROUNDS {
        for (server, (_, channel)) in servers.iter().enumerate() {
            most[server] += throughput(channel, &agency).await? / f64::from(ROUNDS);
        }
    }
    println!(
        "Evaluate through soberana-api vs bare tonic servers, loopback, TLS for all, alternating rounds of {} s per server ({ROUNDS} for throughput, {LATENCY_ROUNDS} per latency rate); the API's answer is {} bytes",
        RUN.as_secs(),
        answer.encoded_len()
    );
    println!("calls/s with {IN_FLIGHT} in flight:");
    for ((name, _), calls) in servers.iter().zip(most) {
        println!("  {name:<14} {calls:>8.0}");
    }
    println!(
        "throughput ratio {:.2} vs echo (goal ≥ 0.60 with TLS), {:.2} vs echo+answer",
        most[0] / most[1],
        most[0] / most[2]
    );
    println!(
        "{:<32} {:>21} {:>21} {:>21} {:>18}",
        "latency p50 / p99 at", "soberana-api", "echo", "echo+answer", "p99 ratio vs echo"
    );
    for fraction in RATE_FRACTIONS {
        let rate = (most[0] * fraction).max(10.0);
        let mut latencies: [Vec<Duration>; 3] = Default::default();
        for _ in 0..LATENCY_ROUNDS {
            for (server, (_, channel)) in servers.iter().enumerate() {
                latencies[server].extend(at_rate(channel, &agency, rate).await?);
            }
        }
        let mut cells = Vec::new();
        let mut p99 = [Duration::ZERO; 3];
        for (server, measured) in latencies.iter_mut().enumerate() {
            measured.sort();
            p99[server] = percentile(measured, 0.99);
            cells.push(format!(
                "{:.2?} / {:.2?}",
                percentile(measured, 0.50),
                p99[server]
            ));
        }
        println!(
            "{:<32} {:>21} {:>21} {:>21} {:>18.2}",
            format!("{rate:.0} calls/s ({:.0} % of api max)", fraction * 100.0),
            cells[0],
            cells[1],
            cells[2],
            p99[0].as_secs_f64() / p99[1].as_secs_f64().max(1e-9)
        );
    }
    println!("p99 goal: ratio ≤ 2.00 vs echo at the same fixed rate");
    std::fs::remove_dir_all(&certificate.directory)?;
    Ok(())
}
