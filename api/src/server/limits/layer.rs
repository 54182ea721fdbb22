//! The tower layer that applies [`CallerLimits`] to every gRPC call before any work (and before
//! authentication, which costs a TokenReview): a refused call gets RESOURCE_EXHAUSTED saying
//! which limit and when to retry. Health checks are exempt, so probes never see a limit.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::server::auth::credential;
use crate::server::limits::callers::CallerLimits;
use crate::server::rpc_metrics::RpcMetrics;

/// Paths never limited.
const EXEMPT_PREFIX: &str = "/grpc.health.v1.Health/";

#[derive(Clone, Debug)]
pub struct CallerLimitLayer {
    pub limits: Arc<CallerLimits>,
    pub metrics: RpcMetrics,
}

impl<S> tower_layer::Layer<S> for CallerLimitLayer {
    type Service = CallerLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallerLimitService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CallerLimitService<S> {
    inner: S,
    layer: CallerLimitLayer,
}

type Boxed<T, E> = Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S, B, R> tower_service::Service<http::Request<B>> for CallerLimitService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Boxed<Self::Response, Self::Error>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path().starts_with(EXEMPT_PREFIX) {
            return Box::pin(self.inner.call(request));
        }
        let caller = caller_key(&request);
        match self.layer.limits.admit(&caller, Instant::now()) {
            Ok(admitted) => {
                let call = self.inner.call(request);
                Box::pin(async move {
                    let response = call.await;
                    drop(admitted);
                    response
                })
            }
            Err(refusal) => {
                let status = refusal.answer(self.layer.limits.settings(), &self.layer.metrics);
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

/// Who is calling: a hash of the credential if there is one (never the credential itself), as
/// authentication reads it (`auth::credential`: spaces around the token do not make another
/// caller), else the client's address (also for a header that carries no credential, which
/// authentication refuses anyway).
fn caller_key<B>(request: &http::Request<B>) -> String {
    let credential = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(credential);
    if let Some(credential) = credential {
        let digest = Sha256::digest(credential.as_bytes());
        return digest
            .iter()
            .take(16)
            .map(|byte| format!("{byte:02x}"))
            .collect();
    }
    let extensions = request.extensions();
    let address = extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|info| info.get_ref().remote_addr())
        });
    address.map_or_else(|| "unknown".to_owned(), |address| address.ip().to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use std::future::Future;

    use tokio::sync::Notify;
    use tower_layer::Layer;
    use tower_service::Service;

    use super::*;
    use crate::server::limits::callers::CallerLimitSettings;

    /// A service whose calls finish only when `release` is notified.
    #[derive(Clone)]
    struct Held {
        release: Arc<Notify>,
    }

    impl Service<http::Request<()>> for Held {
        type Response = http::Response<String>;
        type Error = std::convert::Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            let release = self.release.clone();
            Box::pin(async move {
                release.notified().await;
                Ok(http::Response::new("answered".to_owned()))
            })
        }
    }

    fn call(token: &str, path: &str) -> http::Request<()> {
        http::Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
    }

    fn grpc_status(response: &http::Response<String>) -> Option<&str> {
        response
            .headers()
            .get("grpc-status")
            .and_then(|value| value.to_str().ok())
    }

    #[test]
    fn one_token_spelled_with_other_whitespace_is_one_caller() {
        let key = |authorization: &str| {
            caller_key(
                &http::Request::builder()
                    .header("authorization", authorization)
                    .body(())
                    .unwrap(),
            )
        };
        let plain = key("Bearer token-a");
        for spelled in ["Bearer  token-a", "Bearer \ttoken-a", "Bearer token-a   "] {
            assert_eq!(key(spelled), plain, "{spelled:?}");
        }
        assert_ne!(key("Bearer token-b"), plain);
        // No credential at all: the address (here unknown), not one bucket per spelling.
        assert_eq!(key("Basic abc"), key("Bearer    "));
    }

    #[tokio::test]
    async fn a_second_call_while_the_first_is_at_work_is_refused_then_admitted() {
        let release = Arc::new(Notify::new());
        let layer = CallerLimitLayer {
            limits: CallerLimits::new(CallerLimitSettings {
                concurrency: 1,
                ..CallerLimitSettings::default()
            }),
            metrics: RpcMetrics::new().unwrap(),
        };
        let mut service = layer.layer(Held {
            release: release.clone(),
        });
        let first = tokio::spawn(service.call(call("a", "/soberana.v1.PlacementService/Evaluate")));
        tokio::task::yield_now().await;
        let refused = service
            .call(call("a", "/soberana.v1.PlacementService/Evaluate"))
            .await
            .unwrap();
        // 8 is RESOURCE_EXHAUSTED.
        assert_eq!(grpc_status(&refused), Some("8"));
        let message = refused
            .headers()
            .get("grpc-message")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(message.contains("caller-concurrency"), "{message}");
        // Another caller, and health checks, are not held back.
        let other = tokio::spawn(service.call(call("b", "/soberana.v1.PlacementService/Evaluate")));
        let health = tokio::spawn(service.call(call("a", "/grpc.health.v1.Health/Check")));
        tokio::task::yield_now().await;
        release.notify_waiters();
        for answered in [first, other, health] {
            assert_eq!(answered.await.unwrap().unwrap().body(), "answered");
        }
        let admitted =
            tokio::spawn(service.call(call("a", "/soberana.v1.PlacementService/Evaluate")));
        tokio::task::yield_now().await;
        release.notify_waiters();
        assert_eq!(admitted.await.unwrap().unwrap().body(), "answered");
    }
}
