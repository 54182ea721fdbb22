//! The token the CLI sends when none is given: never the kubeconfig's own token (a Kubernetes
//! API credential the API would refuse, and must not receive), but one the cluster issues for
//! the API's audience only. The CLI asks the cluster who the kubeconfig's user is
//! (SelfSubjectReview); a ServiceAccount then requests a short-lived token for itself with
//! that audience (TokenRequest, which needs `create serviceaccounts/token` on itself). Anyone
//! else is told the `kubectl create token` command to run.

use anyhow::{Context, Result, bail};
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;

/// How long a token the CLI requests lives: one command's worth.
const TOKEN_SECONDS: i64 = 600;

/// A token for `audience`, issued to the user of `kubeconfig`.
pub async fn audience_token(
    kubeconfig: kube::config::Kubeconfig,
    audience: &str,
) -> Result<String> {
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .context("the kubeconfig's current context")?;
    let client = kube::Client::try_from(config).context("a client for the kubeconfig's cluster")?;
    let review = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .context("asking the cluster who the kubeconfig's user is (SelfSubjectReview)")?;
    let user = review
        .status
        .and_then(|status| status.user_info)
        .and_then(|user| user.username)
        .unwrap_or_default();
    let Some((namespace, account)) = service_account(&user) else {
        bail!(
            "the kubeconfig's user {user:?} is not a ServiceAccount, and the API accepts only tokens issued for its audience {audience:?}: run `kubectl create token <service-account> -n <namespace> --audience {audience}` and pass the token with --token (or SOBERANA_TOKEN)"
        );
    };
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: Some(vec![audience.to_owned()]),
            expiration_seconds: Some(TOKEN_SECONDS),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let issued = Api::<ServiceAccount>::namespaced(client, namespace)
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .map_err(|error| match error {
            kube::Error::Api(status) if status.code == 403 => anyhow::anyhow!(
                "{user} may not request a token for the API's audience {audience:?} (it needs `create serviceaccounts/token` on itself): run `kubectl create token {account} -n {namespace} --audience {audience}` and pass the token with --token (or SOBERANA_TOKEN)"
            ),
            other => anyhow::Error::new(other).context(format!(
                "requesting a token for {namespace}/{account} with audience {audience:?}"
            )),
        })?;
    issued
        .status
        .and_then(|status| status.token)
        .filter(|token| !token.is_empty())
        .context("the cluster answered the TokenRequest without a token")
}

/// (namespace, name) of a ServiceAccount user name `system:serviceaccount:<ns>:<name>`.
fn service_account(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix("system:serviceaccount:")?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some((namespace, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_service_account_names_are_service_accounts() {
        assert_eq!(
            service_account("system:serviceaccount:minsa-prod:migrator"),
            Some(("minsa-prod", "migrator"))
        );
        assert_eq!(service_account("maria@minsa.example"), None);
        assert_eq!(service_account("system:serviceaccount:minsa-prod"), None);
        assert_eq!(service_account("system:serviceaccount::x"), None);
    }
}
