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
    let counter = metrics.api_requests.clone();
    let cluster = cluster.to_owned();
    let layer = MapRequestLayer::new(move |request: Request<Body>| {
        counter
            .with_label_values(&[cluster.as_str(), verb(&request)])
            .inc();
        request
    });
    Ok(ClientBuilder::try_from(config)?.with_layer(&layer).build())
}

/// The Kubernetes verb of a request, as far as the method and query tell.
fn verb(request: &Request<Body>) -> &'static str {
    let query = request.uri().query().unwrap_or_default();
    match *request.method() {
        Method::GET if query.contains("watch=true") || query.contains("watch=1") => "watch",
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "other",
    }
}
