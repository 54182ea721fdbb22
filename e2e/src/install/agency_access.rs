//! An agency's migration tool as the API sees it: a ServiceAccount in the tenant's namespace on
//! the management cluster, allowed by RBAC to manage Workloads there and nothing else, and a
//! token for it; a security team's ledger reader; and a security team that writes policy.

use anyhow::{Context, Result};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

/// Creates (idempotently) `namespace`, the ServiceAccount `account` in it with a Role over
/// Workloads there, and returns a one-hour token for it.
pub async fn agency_token(admin: &Client, namespace: &str, account: &str) -> Result<String> {
    let params = PatchParams::apply("soberana-e2e").force();
    let namespace_object =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    Api::<Namespace>::all(admin.clone())
        .patch(namespace, &params, &Patch::Apply(&namespace_object))
        .await
        .with_context(|| format!("creating namespace {namespace}"))?;
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let service_account = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": namespace}});
    accounts
        .patch(account, &params, &Patch::Apply(&service_account))
        .await?;
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": account, "namespace": namespace},
        "rules": [{"apiGroups": ["soberana.io"], "resources": ["workloads"],
                   "verbs": ["get", "list", "watch", "create", "delete"]}]
    });
    Api::<Role>::namespaced(admin.clone(), namespace)
        .patch(account, &params, &Patch::Apply(&role))
        .await?;
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": account, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]
    });
    Api::<RoleBinding>::namespaced(admin.clone(), namespace)
        .patch(account, &params, &Patch::Apply(&binding))
        .await?;
    token(&accounts, namespace, account).await
}

/// Creates (idempotently) the ServiceAccount `account` in `namespace` for a security team that
/// reads the decision ledger: a ClusterRole to list Workloads everywhere (what `AuditService`
/// asks for) and nothing else; returns a one-hour token for it.
pub async fn auditor_token(admin: &Client, namespace: &str, account: &str) -> Result<String> {
    cluster_wide_token(admin, namespace, account, &["workloads"], &["get", "list"]).await
}

/// Creates (idempotently) the ServiceAccount `account` in `namespace` for a security team that
/// writes policy: a ClusterRole to get, list and update the Soberana `resources` (e.g.
/// `dataclassifications`) and nothing else; returns a one-hour token for it, for the API.
pub async fn policy_author_token(
    admin: &Client,
    namespace: &str,
    account: &str,
    resources: &[&str],
) -> Result<String> {
    cluster_wide_token(
        admin,
        namespace,
        account,
        resources,
        &["get", "list", "update"],
    )
    .await
}

/// The ServiceAccount `account` in `namespace`, bound to a ClusterRole of its own granting `verbs`
/// on the Soberana `resources` and nothing else, and a one-hour token for it.
async fn cluster_wide_token(
    admin: &Client,
    namespace: &str,
    account: &str,
    resources: &[&str],
    verbs: &[&str],
) -> Result<String> {
    let params = PatchParams::apply("soberana-e2e").force();
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let service_account = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": namespace}});
    accounts
        .patch(account, &params, &Patch::Apply(&service_account))
        .await?;
    let name = format!("{namespace}-{account}");
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [{"apiGroups": ["soberana.io"], "resources": resources, "verbs": verbs}]
    });
    Api::<ClusterRole>::all(admin.clone())
        .patch(&name, &params, &Patch::Apply(&role))
        .await?;
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]
    });
    Api::<ClusterRoleBinding>::all(admin.clone())
        .patch(&name, &params, &Patch::Apply(&binding))
        .await?;
    token(&accounts, namespace, account).await
}

/// The audience `soberana-api` accepts by default (its `--token-audience`).
pub const API_AUDIENCE: &str = "soberana-api";

/// A one-hour token for the ServiceAccount `account`, issued for the API only: what
/// `kubectl create token <account> --audience soberana-api` gives.
async fn token(accounts: &Api<ServiceAccount>, namespace: &str, account: &str) -> Result<String> {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            audiences: Some(vec![API_AUDIENCE.to_owned()]),
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
