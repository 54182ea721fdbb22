//! The tower layer that applies [`CallerLimits`] to every gRPC call before any work (and before
//! authentication, which costs a TokenReview): a refused call gets RESOURCE_EXHAUSTED saying
//! which limit and when to retry. Health checks are exempt, so probes never see a limit.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tonic::Status;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use super::caller_limits::CallerLimits;
use super::rpc_metrics::RpcMetrics;

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
                self.layer.metrics.throttled(refusal.reason());
                let status =
                    Status::resource_exhausted(refusal.message(self.layer.limits.settings()));
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

/// Who is calling: a hash of the bearer token if there is one (never the token), else the
/// client's address.
fn caller_key<B>(request: &http::Request<B>) -> String {
    if let Some(authorization) = request.headers().get(http::header::AUTHORIZATION) {
        let digest = Sha256::digest(authorization.as_bytes());
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
