//! One Kubernetes client per member site, built from the kubeconfig in the Secret the Site names
//! (read from the watched cache, not fetched per call) and rebuilt when that Secret changes.
//! Credentials never reach logs or status: errors say what is wrong with the Secret, not what it
//! contains.

use std::collections::BTreeMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Secret;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Config, ResourceExt};
use soberana_core::resources::site::Site;

use crate::api_client::counting_client;
use crate::metrics::Metrics;

/// The key read from the Secret when the Site names none.
pub const DEFAULT_KUBECONFIG_KEY: &str = "kubeconfig";

/// Why a site's client could not be built; the message is safe to show.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct ConnectionError(pub String);

/// Clients for member sites, cached by the version of the Secret they came from.
pub struct SiteConnections {
    secrets: Store<Secret>,
    namespace: String,
    cache: Mutex<BTreeMap<String, (String, Client)>>,
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
    /// `secrets` caches the Secrets of `namespace` (the operator's own) on the management cluster.
    pub fn new(secrets: Store<Secret>, namespace: &str) -> Self {
        Self {
            secrets,
            namespace: namespace.to_owned(),
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// The client for `site`, rebuilt when its Secret's resourceVersion changed.
    pub async fn client(&self, site: &Site, metrics: &Metrics) -> Result<Client, ConnectionError> {
        let name = site.name_any();
        let connection = site.spec.connection.as_ref().ok_or_else(|| {
            ConnectionError(
                "spec.connection is not set: no kubeconfig Secret to reach the site".to_owned(),
            )
        })?;
        let secret = self
            .secrets
            .get(&ObjectRef::new(&connection.secret_name).within(&self.namespace))
            .ok_or_else(|| {
                ConnectionError(format!(
                    "Secret {}/{} does not exist",
                    self.namespace, connection.secret_name
                ))
            })?;
        let version = secret.resource_version().unwrap_or_default();
        if let Some((cached_version, client)) = self.lock().get(&name)
            && *cached_version == version
        {
            return Ok(client.clone());
        }
        let key = connection.key.as_deref().unwrap_or(DEFAULT_KUBECONFIG_KEY);
        let bytes = secret
            .data
            .as_ref()
            .and_then(|data| data.get(key))
            .ok_or_else(|| {
                ConnectionError(format!(
                    "Secret {}/{} has no key {key:?}",
                    self.namespace, connection.secret_name
                ))
            })?;
        let text = std::str::from_utf8(&bytes.0).map_err(|_| {
            ConnectionError(format!(
                "Secret {}/{} key {key:?} is not UTF-8 text",
                self.namespace, connection.secret_name
            ))
        })?;
        let client = client_from_kubeconfig(text, &name, metrics)
            .await
            .map_err(|problem| {
                ConnectionError(format!(
                    "Secret {}/{} key {key:?} is not a usable kubeconfig: {problem}",
                    self.namespace, connection.secret_name
                ))
            })?;
        self.lock().insert(name, (version, client.clone()));
        Ok(client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (String, Client)>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Builds a client from kubeconfig text. Errors describe the structure only, never the content.
async fn client_from_kubeconfig(
    text: &str,
    site: &str,
    metrics: &Metrics,
) -> Result<Client, String> {
    let kubeconfig =
        Kubeconfig::from_yaml(text).map_err(|_| "it is not valid kubeconfig YAML".to_owned())?;
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
    counting_client(config, site, metrics)
        .map_err(|_| "no client can be built from it (TLS settings)".to_owned())
}
