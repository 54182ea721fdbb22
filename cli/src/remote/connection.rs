//! The `soberana` CLI as a client of the API: where the server is, who the caller is (a bearer
//! token from `--token`, `SOBERANA_TOKEN`, or the kubeconfig's current user), and TLS.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use tonic::Request;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// How to reach the API.
#[derive(Clone, Debug, clap::Args)]
pub struct Connection {
    /// The API's address.
    #[arg(
        long,
        env = "SOBERANA_SERVER",
        default_value = "http://127.0.0.1:8443",
        global = true
    )]
    pub server: String,
    /// Bearer token issued for the API's audience (default: SOBERANA_TOKEN, else one the
    /// kubeconfig's ServiceAccount requests for that audience).
    #[arg(long, env = "SOBERANA_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Kubeconfig whose user requests a token for the API (default: KUBECONFIG or
    /// ~/.kube/config); its own token is never sent to the API.
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The audience the API accepts (its --token-audience).
    #[arg(
        long,
        env = "SOBERANA_TOKEN_AUDIENCE",
        default_value = "soberana-api",
        global = true
    )]
    pub token_audience: String,
    /// The token, once resolved by `channel`.
    #[arg(skip)]
    resolved: std::sync::Arc<std::sync::OnceLock<String>>,
    /// PEM CA that signed the API's certificate (for https:// servers).
    #[arg(long, global = true)]
    pub ca_file: Option<PathBuf>,
}

impl Connection {
    /// A channel to the server, with the caller's token resolved for the requests on it.
    pub async fn channel(&self) -> Result<Channel> {
        refuse_remote_plaintext(&self.server)?;
        if self.resolved.get().is_none() {
            let token = self.bearer().await?;
            let _ = self.resolved.set(token);
        }
        let mut endpoint = Endpoint::from_shared(self.server.clone())
            .with_context(|| format!("--server {:?} is not a URL", self.server))?
            .connect_timeout(std::time::Duration::from_secs(5));
        if let Some(ca) = &self.ca_file {
            let pem =
                std::fs::read(ca).with_context(|| format!("reading --ca-file {}", ca.display()))?;
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
                .context("configuring TLS")?;
        }
        endpoint
            .connect()
            .await
            .with_context(|| format!("connecting to the API at {}", self.server))
    }

    /// The caller's token: `--token`, or one requested for the API's audience by the
    /// kubeconfig's user (see `remote_token`).
    async fn bearer(&self) -> Result<String> {
        if let Some(token) = &self.token {
            return Ok(token.clone());
        }
        let kubeconfig = match &self.kubeconfig {
            Some(path) => kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading --kubeconfig {}", path.display()))?,
            None => kube::config::Kubeconfig::read()
                .context("reading the kubeconfig (or pass --token)")?,
        };
        crate::remote::token::audience_token(kubeconfig, &self.token_audience).await
    }

    /// `message` with the caller's token.
    pub fn request<T>(&self, message: T) -> Result<Request<T>> {
        let mut request = Request::new(message);
        let token = self
            .resolved
            .get()
            .context("no token resolved: connect with `channel` first")?;
        let value = format!("Bearer {token}")
            .parse()
            .context("the token contains characters a header cannot carry")?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// A request id for one invocation: retries of the same command line with `--request-id` reuse
/// the first answer.
pub fn fresh_request_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("cli-{}-{nanos:x}", std::process::id())
}

/// The CLI sends a bearer token on every call: over `http://` only to a loopback server (a local
/// lab, a port-forward), never across a network.
fn refuse_remote_plaintext(server: &str) -> Result<()> {
    let uri: tonic::codegen::http::Uri = server
        .parse()
        .with_context(|| format!("--server {server:?} is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Ok(());
    }
    let host = uri.host().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    if !loopback {
        bail!(
            "--server {server}: plaintext http:// is refused for a server that is not on loopback, since the token would cross the network in clear; use https:// (with --ca-file if its CA is private)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_only_to_loopback() {
        assert!(refuse_remote_plaintext("http://127.0.0.1:8443").is_ok());
        assert!(refuse_remote_plaintext("http://localhost:8443").is_ok());
        assert!(refuse_remote_plaintext("http://[::1]:8443").is_ok());
        assert!(refuse_remote_plaintext("https://api.dc.example:8443").is_ok());
        let refused = refuse_remote_plaintext("http://api.dc.example:8443")
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            refused.contains("plaintext http:// is refused"),
            "{refused}"
        );
        assert!(refuse_remote_plaintext("http://10.0.0.5:8443").is_err());
    }
}
