//! The program in the harness's own node images, until the project's images take their place:
//! `pause` holds a Pod sandbox (the kubelet's pause image); `serve` asks the API server who it is
//! with the Pod's ServiceAccount token, through the `kubernetes` Service (so through kube-proxy),
//! prints the answer, and then answers HTTP on port 8080 with it, so that its readiness says the
//! Pod reached the API server.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::PostParams;
use kube::{Api, Client, Config};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// The port `serve` answers on.
const PORT: u16 = 8080;

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("soberana-node-probe: starting the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match mode.as_str() {
        "pause" => runtime.block_on(until_stopped()),
        "serve" => runtime.block_on(serve()),
        other => Err(anyhow::anyhow!(
            "unknown mode {other:?}: expected `pause` or `serve`"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("soberana-node-probe: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Waits for SIGTERM or SIGINT: as PID 1 of a container, signals without a handler are ignored.
async fn until_stopped() -> Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

async fn serve() -> Result<()> {
    let identity = loop {
        match whoami().await {
            Ok(identity) => break identity,
            Err(error) => {
                eprintln!("soberana-node-probe: asking the API server who I am: {error:#}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let line = format!("reached the API server as {identity}");
    println!("{line}");
    let listener = TcpListener::bind(("0.0.0.0", PORT))
        .await
        .with_context(|| format!("binding port {PORT}"))?;
    let answer = format!(
        "HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{line}\n",
        line.len() + 1
    );
    let stopped = until_stopped();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            result = &mut stopped => return result,
            accepted = listener.accept() => {
                if let Ok((mut stream, _)) = accepted {
                    let _ = stream.write_all(answer.as_bytes()).await;
                }
            }
        }
    }
}

/// The user name the API server gives this Pod's ServiceAccount token.
async fn whoami() -> Result<String> {
    let config = Config::incluster().context("reading the in-cluster configuration")?;
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config)?;
    let reviews: Api<SelfSubjectReview> = Api::all(client);
    let review = reviews
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .with_context(|| format!("creating a SelfSubjectReview at {server}"))?;
    review
        .status
        .and_then(|status| status.user_info)
        .and_then(|user| user.username)
        .context("the SelfSubjectReview names no user")
}
