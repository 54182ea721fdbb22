//! Kubernetes clients that count their requests by cluster and verb, so the operator's own
//! metrics show how much it writes (and that it writes nothing when nothing changes).

use http::{Method, Request};
use kube::client::{Body, ClientBuilder};
use kube::{Client, Config};
use tower::util::MapRequestLayer;

use crate::runtime::metrics::Metrics;

/// A client for `config` whose every request increments
/// `soberana_kube_api_requests_total{cluster, verb}`.
pub fn counting_client(
    config: Config,
    cluster: &str,
    metrics: &Metrics,
) -> Result<Client, kube::Error> {
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&counting_layer(cluster, metrics))
        .build())
}

/// The layer that counts each request in `soberana_kube_api_requests_total{cluster, verb}`.
pub fn counting_layer(
    cluster: &str,
    metrics: &Metrics,
) -> MapRequestLayer<impl Fn(Request<Body>) -> Request<Body> + Clone + Send + Sync + 'static> {
    let counter = metrics.api_requests.clone();
    let cluster = cluster.to_owned();
    MapRequestLayer::new(move |request: Request<Body>| {
        counter
            .with_label_values(&[cluster.as_str(), verb(&request)])
            .inc();
        request
    })
}

/// Whether the request is a watch: a long request that streams events.
pub fn is_watch<B>(request: &Request<B>) -> bool {
    let query = request.uri().query().unwrap_or_default();
    request.method() == Method::GET
        && query
            .split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
}

/// The Kubernetes verb of a request, as far as the method and query tell.
fn verb(request: &Request<Body>) -> &'static str {
    match *request.method() {
        Method::GET if is_watch(request) => "watch",
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "other",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;

    #[test]
    fn only_a_get_with_watch_set_is_a_watch() {
        let request = |method: Method, uri: &str| {
            Request::builder().method(method).uri(uri).body(()).unwrap()
        };
        assert!(is_watch(&request(
            Method::GET,
            "/api/v1/namespaces?labelSelector=a&watch=true&resourceVersion=1"
        )));
        assert!(is_watch(&request(Method::GET, "/api/v1/pods?watch=1")));
        assert!(!is_watch(&request(Method::GET, "/api/v1/pods?watch=false")));
        assert!(!is_watch(&request(
            Method::GET,
            "/api/v1/pods?labelSelector=watch%3Dtrue"
        )));
        assert!(!is_watch(&request(Method::POST, "/api/v1/pods?watch=true")));
        assert!(!is_watch(&request(Method::GET, "/api/v1/pods")));
    }
}
