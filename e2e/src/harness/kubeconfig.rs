//! Kubeconfig files for the clusters, self-contained (certificates embedded) so that `kubectl`
//! and `kube::Client` read them alike.

use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::harness::pki::CertifiedKey;

/// How the kubeconfig's user authenticates.
#[derive(Clone, Copy, Debug)]
pub enum Credentials<'a> {
    /// A client certificate and key.
    Certificate(&'a CertifiedKey),
    /// A bearer token (e.g. a ServiceAccount's).
    Token(&'a str),
}

/// Writes a kubeconfig for `user` at `server`, with one context named after the cluster.
pub fn write_kubeconfig(
    path: &Path,
    cluster: &str,
    server: &str,
    ca_certificate_pem: &str,
    user: &str,
    credentials: &CertifiedKey,
) -> Result<()> {
    let text = kubeconfig_text(
        cluster,
        server,
        ca_certificate_pem,
        user,
        Credentials::Certificate(credentials),
    );
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Kubeconfig text for `user` at `server`, with one context named after the cluster.
pub fn kubeconfig_text(
    cluster: &str,
    server: &str,
    ca_certificate_pem: &str,
    user: &str,
    credentials: Credentials<'_>,
) -> String {
    let user_fields = match credentials {
        Credentials::Certificate(key) => format!(
            "    client-certificate-data: {}\n    client-key-data: {}",
            STANDARD.encode(&key.certificate_pem),
            STANDARD.encode(&key.key_pem),
        ),
        Credentials::Token(token) => format!("    token: {token}"),
    };
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {cluster}
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {user}
  user:
{user_fields}
contexts:
- name: {cluster}
  context:
    cluster: {cluster}
    user: {user}
current-context: {cluster}
",
        ca = STANDARD.encode(ca_certificate_pem),
    )
}
