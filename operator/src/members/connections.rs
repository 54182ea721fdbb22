//! One Kubernetes client per member site, built from the kubeconfig in the Secret the Site names
//! (read from the watched cache, not fetched per call) and rebuilt when that Secret changes.
//! Credentials never reach logs or status: errors say what is wrong with the Secret, not what it
//! contains. The kubeconfig is data, not code: it is checked by [`check_kubeconfig`] before any
//! client is built, so exec plugins, file paths, proxies and plain-http servers are refused.
//! Every client calls its site under the deadlines and call slots of [`MemberLimits`], so a site
//! that stops answering holds up only the work on that site.

use std::collections::BTreeMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Secret;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Config, ResourceExt};
use soberana_core::resources::site::{Site, SiteConnection};

use crate::members::deadline::{MemberLimits, member_client};
use crate::members::kubeconfig_safety::{UnsafeKubeconfig, check_kubeconfig};
use crate::runtime::metrics::Metrics;

/// The key read from the Secret when the Site names none.
pub const DEFAULT_KUBECONFIG_KEY: &str = "kubeconfig";

/// Why a site's client could not be built: the message, safe to show, and what kind of failure.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct ConnectionError(pub String, pub ConnectionFailure);

/// The kinds of [`ConnectionError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionFailure {
    /// No Secret, no key, or a kubeconfig no client can be built from.
    Unusable,
    /// The kubeconfig asks for something the operator refuses (see [`check_kubeconfig`]).
    UnsafeKubeconfig,
}

impl ConnectionError {
    /// A Secret or kubeconfig the client cannot be built from.
    pub fn unusable(message: impl Into<String>) -> Self {
        Self(message.into(), ConnectionFailure::Unusable)
    }

    /// A kubeconfig refused as unsafe; the message names the field, never its value.
    pub fn unsafe_kubeconfig(message: impl Into<String>) -> Self {
        Self(message.into(), ConnectionFailure::UnsafeKubeconfig)
    }

    /// Whether the kubeconfig was refused as unsafe.
    pub fn is_unsafe_kubeconfig(&self) -> bool {
        self.1 == ConnectionFailure::UnsafeKubeconfig
    }

    /// The condition reason for this failure: `UnsafeKubeconfig` or `NoConnection`.
    pub fn reason(&self) -> &'static str {
        match self.1 {
            ConnectionFailure::Unusable => "NoConnection",
            ConnectionFailure::UnsafeKubeconfig => "UnsafeKubeconfig",
        }
    }
}

/// A built client and what it was built from: the Secret's resourceVersion and the Site's
/// connection (Secret, key, TLS opt-in), so a change to either rebuilds it.
struct CachedClient {
    secret_version: String,
    connection: SiteConnection,
    client: Client,
}

/// Clients for member sites, cached by the version of the Secret they came from.
pub struct SiteConnections {
    secrets: Store<Secret>,
    namespace: String,
    limits: MemberLimits,
    cache: Mutex<BTreeMap<String, CachedClient>>,
}

impl std::fmt::Debug for SiteConnections {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sites: Vec<String> = self.lock().keys().cloned().collect();
        formatter
            .debug_struct("SiteConnections")
            .field("namespace", &self.namespace)
            .field("sites", &sites)
            .finish()
    }
}

impl SiteConnections {
    /// `secrets` caches the Secrets of `namespace` (the operator's own) on the management cluster;
    /// `limits` bound every call to a member.
    pub fn new(secrets: Store<Secret>, namespace: &str, limits: MemberLimits) -> Self {
        Self {
            secrets,
            namespace: namespace.to_owned(),
            limits,
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// The client for `site`, rebuilt when its Secret's resourceVersion or the Site's connection
    /// changed. The kubeconfig is checked by [`check_kubeconfig`] before a client is built.
    pub async fn client(&self, site: &Site, metrics: &Metrics) -> Result<Client, ConnectionError> {
        let name = site.name_any();
        let connection = site.spec.connection.as_ref().ok_or_else(|| {
            ConnectionError::unusable(
                "spec.connection is not set: no kubeconfig Secret to reach the site",
            )
        })?;
        let secret = self
            .secrets
            .get(&ObjectRef::new(&connection.secret_name).within(&self.namespace))
            .ok_or_else(|| {
                ConnectionError::unusable(format!(
                    "Secret {}/{} does not exist",
                    self.namespace, connection.secret_name
                ))
            })?;
        let version = secret.resource_version().unwrap_or_default();
        if let Some(cached) = self.lock().get(&name)
            && cached.secret_version == version
            && cached.connection == *connection
        {
            return Ok(cached.client.clone());
        }
        let key = connection.key.as_deref().unwrap_or(DEFAULT_KUBECONFIG_KEY);
        let bytes = secret
            .data
            .as_ref()
            .and_then(|data| data.get(key))
            .ok_or_else(|| {
                ConnectionError::unusable(format!(
                    "Secret {}/{} has no key {key:?}",
                    self.namespace, connection.secret_name
                ))
            })?;
        let text = std::str::from_utf8(&bytes.0).map_err(|_| {
            ConnectionError::unusable(format!(
                "Secret {}/{} key {key:?} is not UTF-8 text",
                self.namespace, connection.secret_name
            ))
        })?;
        let client = client_from_kubeconfig(
            text,
            connection.allow_insecure_skip_tls_verify,
            &name,
            metrics,
            &self.limits,
        )
        .await
        .map_err(|problem| match problem {
            KubeconfigProblem::Unusable(problem) => ConnectionError::unusable(format!(
                "Secret {}/{} key {key:?} is not a usable kubeconfig: {problem}",
                self.namespace, connection.secret_name
            )),
            KubeconfigProblem::Unsafe(problem) => ConnectionError::unsafe_kubeconfig(format!(
                "Secret {}/{} key {key:?} holds an unsafe kubeconfig, refused: {problem}",
                self.namespace, connection.secret_name
            )),
        })?;
        self.lock().insert(
            name,
            CachedClient {
                secret_version: version,
                connection: connection.clone(),
                client: client.clone(),
            },
        );
        Ok(client)
    }

    /// What the cached client of `site` was built from (Secret name, key and resourceVersion), so
    /// that long-lived watches can tell when the credentials changed under them.
    pub fn version(&self, site: &str) -> Option<String> {
        self.lock().get(site).map(|cached| {
            format!(
                "{}/{}/{}/{}",
                cached.connection.secret_name,
                cached
                    .connection
                    .key
                    .as_deref()
                    .unwrap_or(DEFAULT_KUBECONFIG_KEY),
                cached.connection.allow_insecure_skip_tls_verify,
                cached.secret_version
            )
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, CachedClient>> {
        soberana_runtime::locking::lock(&self.cache)
    }
}

/// Why no client was built from a kubeconfig.
#[derive(Debug)]
enum KubeconfigProblem {
    /// It cannot be parsed or loaded; the text describes the structure, never the content.
    Unusable(String),
    /// It asks for something refused by [`check_kubeconfig`].
    Unsafe(UnsafeKubeconfig),
}

impl From<String> for KubeconfigProblem {
    fn from(problem: String) -> Self {
        Self::Unusable(problem)
    }
}

/// Builds a client from kubeconfig text, once [`check_kubeconfig`] accepts it. Errors describe
/// the structure only, never the content.
async fn client_from_kubeconfig(
    text: &str,
    allow_insecure_skip_tls_verify: bool,
    site: &str,
    metrics: &Metrics,
    limits: &MemberLimits,
) -> Result<Client, KubeconfigProblem> {
    let kubeconfig =
        Kubeconfig::from_yaml(text).map_err(|_| "it is not valid kubeconfig YAML".to_owned())?;
    check_kubeconfig(&kubeconfig, allow_insecure_skip_tls_verify)
        .map_err(KubeconfigProblem::Unsafe)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|error| match error {
            kube::config::KubeconfigError::CurrentContextNotSet => {
                "it sets no current-context".to_owned()
            }
            kube::config::KubeconfigError::LoadContext(name) => {
                format!("context {name:?} is missing")
            }
            kube::config::KubeconfigError::LoadClusterOfContext(name) => {
                format!("cluster {name:?} is missing")
            }
            kube::config::KubeconfigError::MissingClusterUrl => {
                "its cluster has no server URL".to_owned()
            }
            kube::config::KubeconfigError::ParseClusterUrl(_) => {
                "its server URL is malformed".to_owned()
            }
            kube::config::KubeconfigError::LoadCertificateAuthority(_) => {
                "its certificate authority cannot be loaded".to_owned()
            }
            kube::config::KubeconfigError::LoadClientCertificate(_) => {
                "its client certificate cannot be loaded".to_owned()
            }
            kube::config::KubeconfigError::LoadClientKey(_) => {
                "its client key cannot be loaded".to_owned()
            }
            _ => "its cluster, user or certificates cannot be loaded".to_owned(),
        })?;
    member_client(config, site, metrics, limits).map_err(|_| {
        "no client can be built from it (TLS settings)"
            .to_owned()
            .into()
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use kube::runtime::{reflector, watcher};
    use serde_json::json;

    use super::*;

    const NAMESPACE: &str = "soberana-system";

    /// Connections whose Secret cache holds `site-secret` with `kubeconfig` under `kubeconfig`.
    fn connections(kubeconfig: &str) -> SiteConnections {
        let (secrets, mut writer) = reflector::store::<Secret>();
        let mut secret = Secret::default();
        secret.metadata.name = Some("site-secret".to_owned());
        secret.metadata.namespace = Some(NAMESPACE.to_owned());
        secret.metadata.resource_version = Some("1".to_owned());
        secret.data = Some(BTreeMap::from([(
            DEFAULT_KUBECONFIG_KEY.to_owned(),
            ByteString(kubeconfig.as_bytes().to_vec()),
        )]));
        writer.apply_watcher_event(&watcher::Event::Apply(secret));
        SiteConnections::new(secrets, NAMESPACE, MemberLimits::default())
    }

    fn site(connection: serde_json::Value) -> Site {
        serde_json::from_value(json!({
            "apiVersion": "soberana.io/v1alpha1",
            "kind": "Site",
            "metadata": {"name": "state-dc"},
            "spec": {
                "provider": "the state",
                "sovereigntyTier": "StateOwned",
                "jurisdiction": "CR",
                "offeredAvailability": "99.95",
                "capacity": {"cpuMillicores": 1000, "memoryMebibytes": 1000, "storageGibibytes": 10},
                "connection": connection,
            }
        }))
        .unwrap()
    }

    /// The error `connections` gives for `site`; a built client fails the test.
    async fn refused(connections: &SiteConnections, site: &Site) -> ConnectionError {
        match connections.client(site, &Metrics::new().unwrap()).await {
            Ok(_) => panic!("a client was built"),
            Err(error) => error,
        }
    }

    fn kubeconfig(cluster: &str, user: &str) -> String {
        format!(
            "clusters:
- name: site
  cluster:
    server: https://203.0.113.10:6443
{cluster}
users:
- name: site-admin
  user:
    token: s3cr3t-token-value
{user}
contexts:
- name: site
  context:
    cluster: site
    user: site-admin
current-context: site
"
        )
    }

    #[tokio::test]
    async fn an_exec_plugin_is_refused_naming_the_secret_key_and_field_only() {
        let text = kubeconfig("", "    exec:\n      command: /bin/s3cr3t-stealer");
        let error = refused(
            &connections(&text),
            &site(json!({"secretName": "site-secret"})),
        )
        .await;
        assert!(error.is_unsafe_kubeconfig());
        assert_eq!(error.reason(), "UnsafeKubeconfig");
        assert_eq!(
            error.0,
            "Secret soberana-system/site-secret key \"kubeconfig\" holds an unsafe kubeconfig, \
             refused: users[name=site-admin].user.exec (credential plugins would run a command \
             inside the operator; use token or client-certificate-data)"
        );
        assert!(!error.0.contains("s3cr3t"), "{}", error.0);
    }

    #[tokio::test]
    async fn insecure_skip_tls_verify_is_refused_unless_the_site_allows_it() {
        let text = kubeconfig("    insecure-skip-tls-verify: true", "");
        let connections = connections(&text);
        let metrics = Metrics::new().unwrap();
        let error = refused(&connections, &site(json!({"secretName": "site-secret"}))).await;
        assert_eq!(error.reason(), "UnsafeKubeconfig");
        assert!(
            error
                .0
                .contains("clusters[name=site].cluster.insecure-skip-tls-verify"),
            "{}",
            error.0
        );
        let allowed = site(json!({
            "secretName": "site-secret",
            "allowInsecureSkipTlsVerify": true,
        }));
        connections.client(&allowed, &metrics).await.unwrap();
        // Taking the opt-in back does not keep the client built under it.
        let error = refused(&connections, &site(json!({"secretName": "site-secret"}))).await;
        assert_eq!(error.reason(), "UnsafeKubeconfig");
    }

    #[tokio::test]
    async fn other_failures_keep_the_no_connection_reason() {
        let connections = connections("this is not a kubeconfig: s3cr3t-token-value");
        let error = refused(&connections, &site(json!({"secretName": "site-secret"}))).await;
        assert!(!error.is_unsafe_kubeconfig());
        assert_eq!(error.reason(), "NoConnection");
        assert!(
            error.0.contains("Secret soberana-system/site-secret")
                && error.0.contains("is not a usable kubeconfig"),
            "{}",
            error.0
        );
        assert!(!error.0.contains("s3cr3t"), "{}", error.0);
        let missing = refused(&connections, &site(json!({"secretName": "elsewhere"}))).await;
        assert_eq!(missing.reason(), "NoConnection");
        assert!(missing.0.contains("does not exist"), "{}", missing.0);
    }
}
