//! Kubernetes clients that count their requests by cluster and verb, so the operator's own
//! metrics show how much it writes (and that it writes nothing when nothing changes).

use http::{Method, Request};
use kube::client::Body;
use kube::{Client, Config};
use tower::util::MapRequestLayer;

use soberana_runtime::management_cluster::ManagementLimits;

use crate::runtime::metrics::Metrics;

/// A client of the management cluster for `config` whose every request increments
/// `soberana_kube_api_requests_total{cluster, verb}` and runs under `limits`' deadline (counted in
/// `soberana_management_request_timeouts_total` when it runs out).
pub fn counting_client(
    config: Config,
    cluster: &str,
    metrics: &Metrics,
    limits: &ManagementLimits,
) -> Result<Client, kube::Error> {
    Ok(limits
        .client_builder(config, metrics.management_request_timeouts.clone())?
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

pub use soberana_runtime::request_deadline::is_watch;

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

/// The management client against a real socket: one that accepts and never answers (a frozen
/// API server keeps its port and connections open), and one that streams a watch slowly.
#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod deadline_tests {
    use std::time::Duration;

    use kube::Config;
    use soberana_runtime::management_cluster::ManagementLimits;
    use soberana_runtime::request_deadline::timed_out;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::counting_client;
    use crate::runtime::metrics::Metrics;

    const DEADLINE: Duration = Duration::from_millis(300);

    fn limits() -> ManagementLimits {
        ManagementLimits {
            connect_timeout: Duration::from_secs(5),
            request_timeout: DEADLINE,
        }
    }

    /// A server on loopback that runs `answer` on every connection; its address.
    async fn server<F, Fut>(answer: F) -> String
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream));
            }
        });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn a_call_to_a_frozen_management_api_server_fails_at_its_deadline_naming_the_flag() {
        let url = server(|mut stream| async move {
            // Reads the request and holds the connection, answering nothing.
            let mut buffer = [0_u8; 4096];
            let _ = stream.read(&mut buffer).await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        })
        .await;
        let metrics = Metrics::new().unwrap();
        let config = Config::new(url.parse().unwrap());
        let client = counting_client(config, "management", &metrics, &limits()).unwrap();
        let started = std::time::Instant::now();
        let error = client.apiserver_version().await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(timed_out(&error), "{error:?}");
        assert!(
            format!("{error}").contains(
                "the management API server did not answer within 0.3s (--management-request-timeout)"
            ),
            "{error}"
        );
        assert!(elapsed < Duration::from_secs(5), "failed after {elapsed:?}");
        assert_eq!(metrics.management_request_timeouts.get(), 1);
    }

    #[tokio::test]
    async fn a_watch_keeps_streaming_past_the_deadline() {
        let url = server(|mut stream| async move {
            let mut buffer = [0_u8; 4096];
            let _ = stream.read(&mut buffer).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
            stream.write_all(head.as_bytes()).await.unwrap();
            // The first event comes three deadlines later, as on a quiet watch.
            tokio::time::sleep(DEADLINE * 3).await;
            let event = r#"{"type":"BOOKMARK","object":{}}"#;
            let chunk = format!("{:x}\r\n{event}\r\n0\r\n\r\n", event.len());
            stream.write_all(chunk.as_bytes()).await.unwrap();
            let _ = stream.shutdown().await;
        })
        .await;
        let metrics = Metrics::new().unwrap();
        let client = counting_client(
            Config::new(url.parse().unwrap()),
            "management",
            &metrics,
            &limits(),
        )
        .unwrap();
        let request = http::Request::get("/api/v1/namespaces?watch=true&timeoutSeconds=290")
            .body(Vec::new())
            .unwrap();
        let body = client.request_text(request).await.unwrap();
        assert!(body.contains("BOOKMARK"), "{body}");
        assert_eq!(metrics.management_request_timeouts.get(), 0);
    }
}
