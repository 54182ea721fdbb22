//! Kubeconfig files for the clusters, self-contained (certificates embedded) so that `kubectl`
//! and `kube::Client` read them alike.

use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::pki::CertifiedKey;

/// Writes a kubeconfig for `user` at `server`, with one context named after the cluster.
pub fn write_kubeconfig(
    path: &Path,
    cluster: &str,
    server: &str,
    ca_certificate_pem: &str,
    user: &str,
    credentials: &CertifiedKey,
) -> Result<()> {
    let text = format!(
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
    client-certificate-data: {certificate}
    client-key-data: {key}
contexts:
- name: {cluster}
  context:
    cluster: {cluster}
    user: {user}
current-context: {cluster}
",
        ca = STANDARD.encode(ca_certificate_pem),
        certificate = STANDARD.encode(&credentials.certificate_pem),
        key = STANDARD.encode(&credentials.key_pem),
    );
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
