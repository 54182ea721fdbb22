//! Installing Soberana into a harness control plane the way a data-centre operator would: the
//! operator's least-privilege RBAC from the Helm charts' files (the same YAML the charts install)
//! on the management cluster and on every member site, and one kubeconfig Secret per site
//! authenticating as the member ServiceAccount.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use k8s_openapi::ByteString;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::pinned_kind;
use kube::{Api, Client};
use serde_json::Value;

use crate::harness::cluster::Cluster;
use crate::harness::kubeconfig::{Credentials, kubeconfig_text};
use crate::install::soberana_manifests::{FIELD_MANAGER, repository_root, yaml_documents};

/// Where the operator runs and keeps its Lease, on every cluster.
pub const OPERATOR_NAMESPACE: &str = "soberana-system";
/// Where the site kubeconfig Secrets are on the management cluster: the only Secrets the
/// operator may read (`files/rbac/operator.yaml`, its `--site-secrets-namespace`).
pub const SITE_SECRETS_NAMESPACE: &str = "soberana-sites";
/// The operator's ServiceAccount, on the management cluster and on each member.
pub const OPERATOR_SERVICE_ACCOUNT: &str = "soberana-operator";
/// How long the tokens handed to the operator live: longer than any test or demo.
const TOKEN_SECONDS: i64 = 48 * 3600;

/// The operator's RBAC on the management cluster: the `soberana` chart's file.
pub const MANAGEMENT_RBAC: &str = "charts/soberana/files/rbac/operator.yaml";
/// The API's RBAC on the management cluster: the `soberana` chart's file.
pub const API_RBAC: &str = "charts/soberana/files/rbac/api.yaml";
/// The operator's RBAC and confinement on a member: the `soberana-member` chart's file.
pub const MEMBER_RBAC: &str = "charts/soberana-member/files/member-cluster.yaml";

/// The path of one of the RBAC files above (relative to the repository root).
pub fn rbac_path(rbac_file: &str) -> PathBuf {
    repository_root().join(rbac_file)
}

/// Applies every object of a multi-document YAML file (any kind the server knows).
pub async fn apply_file(client: &Client, path: &Path) -> Result<usize> {
    let documents = yaml_documents(path)?;
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    for (path, object) in &documents {
        let (group, version) = split_api_version(object["apiVersion"].as_str().unwrap_or_default());
        let kind = object["kind"].as_str().context("an object without kind")?;
        let name = object["metadata"]["name"]
            .as_str()
            .context("an object without metadata.name")?;
        let (resource, _) = pinned_kind(client, &GroupVersionKind::gvk(group, version, kind))
            .await
            .with_context(|| format!("{}: the server does not serve {kind}", path.display()))?;
        let api: Api<kube::api::DynamicObject> = match object["metadata"]["namespace"].as_str() {
            Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        api.patch(name, &apply, &Patch::Apply(object))
            .await
            .with_context(|| format!("{}: applying {kind} {name}", path.display()))?;
    }
    Ok(documents.len())
}

fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// A kubeconfig for `cluster` that authenticates as the operator's ServiceAccount there, after
/// installing that cluster's RBAC file ([`MANAGEMENT_RBAC`] or [`MEMBER_RBAC`]).
pub async fn operator_kubeconfig(cluster: &Cluster, rbac_file: &str) -> Result<String> {
    let token = service_account_token(cluster, rbac_file, OPERATOR_SERVICE_ACCOUNT).await?;
    Ok(token_kubeconfig(cluster, OPERATOR_SERVICE_ACCOUNT, &token))
}

/// Installs `rbac_file` (one of the RBAC files above) on `cluster` and returns a token for the
/// ServiceAccount `account` in Soberana's namespace that it defines.
pub async fn service_account_token(
    cluster: &Cluster,
    rbac_file: &str,
    account: &str,
) -> Result<String> {
    let admin = cluster.client().await?;
    apply_file(&admin, &rbac_path(rbac_file)).await?;
    request_token(&admin, OPERATOR_NAMESPACE, account)
        .await
        .with_context(|| format!("on {}", cluster.name()))
}

/// A token (TokenRequest) of the ServiceAccount `namespace/account`, however it was installed
/// (by these files or by a chart).
pub async fn request_token(admin: &Client, namespace: &str, account: &str) -> Result<String> {
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(TOKEN_SECONDS),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    accounts
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .with_context(|| format!("requesting a token for {namespace}/{account}"))?
        .status
        .and_then(|status| status.token)
        .context("a TokenRequest answered without a token")
}

/// A kubeconfig for `cluster` that authenticates with `token` as `user`.
pub fn token_kubeconfig(cluster: &Cluster, user: &str, token: &str) -> String {
    kubeconfig_text(
        cluster.name(),
        cluster.server(),
        cluster.ca_certificate_pem(),
        user,
        Credentials::Token(token),
    )
}

/// The name of the Secret holding the kubeconfig of `site`.
pub fn site_secret_name(site: &str) -> String {
    format!("site-{site}")
}

/// Installs the member RBAC on `member` and stores the operator's kubeconfig for it in the
/// Secret `site-<site>` on the management cluster; returns the Secret's name and the kubeconfig.
pub async fn register_site_credentials(
    management: &Client,
    site: &str,
    member: &Cluster,
) -> Result<(String, String)> {
    let kubeconfig = operator_kubeconfig(member, MEMBER_RBAC).await?;
    let name = site_secret_name(site);
    store_kubeconfig(management, &name, &kubeconfig).await?;
    Ok((name, kubeconfig))
}

/// Writes `kubeconfig` into the Secret `name` (key `kubeconfig`) in the site Secrets' namespace.
pub async fn store_kubeconfig(management: &Client, name: &str, kubeconfig: &str) -> Result<()> {
    let secrets: Api<Secret> = Api::namespaced(management.clone(), SITE_SECRETS_NAMESPACE);
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(SITE_SECRETS_NAMESPACE.to_owned()),
            ..Default::default()
        },
        data: Some(
            [(
                "kubeconfig".to_owned(),
                ByteString(kubeconfig.as_bytes().to_vec()),
            )]
            .into(),
        ),
        ..Secret::default()
    };
    let mut manifest: Value = serde_json::to_value(&secret)?;
    manifest["apiVersion"] = "v1".into();
    manifest["kind"] = "Secret".into();
    secrets
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&manifest),
        )
        .await
        .with_context(|| format!("storing Secret {SITE_SECRETS_NAMESPACE}/{name}"))?;
    Ok(())
}

/// A kubeconfig for `cluster` reached at `server` (e.g. from Pods on a real node, see
/// [`ControlPlane::server_for_pods`](crate::ControlPlane::server_for_pods)) that authenticates
/// with `token` as `user`.
pub fn token_kubeconfig_at(cluster: &Cluster, server: &str, user: &str, token: &str) -> String {
    kubeconfig_text(
        cluster.name(),
        server,
        cluster.ca_certificate_pem(),
        user,
        Credentials::Token(token),
    )
}
