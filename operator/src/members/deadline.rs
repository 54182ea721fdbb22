//! Every call to a member has a deadline, and no site may hold more than a few calls at once.
//!
//! A member API server that stops answering (frozen, overloaded, or a half-open pooled connection)
//! would otherwise keep a reconcile waiting until TCP gives up, and with it every other site that
//! reconcile reports on. Each member client therefore gets a connect timeout, a write timeout, and
//! a whole-request deadline: from the moment the call is made (waiting for one of the site's call
//! slots included) until the last byte of the answer is read. A watch is a long request by design:
//! its deadline covers only the wait until it starts streaming; after that, kube's watcher notices
//! an idle stream (its idle timeout) and reconnects.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use kube::client::Body;
use prometheus::IntCounter;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::{BoxError, Layer, Service, ServiceExt};

use crate::runtime::counting_client::{counting_layer, is_watch};
use crate::runtime::metrics::Metrics;

/// How many calls may queue for a member client's connection pool.
const QUEUED_CALLS: usize = 1024;

/// A client for member `site` whose every call is counted, bounded by `limits` (see the module
/// documentation), and counted again in `soberana_member_request_timeouts_total` when it times
/// out.
pub fn member_client(
    config: kube::Config,
    site: &str,
    metrics: &Metrics,
    limits: &MemberLimits,
) -> Result<kube::Client, kube::Error> {
    let timeouts = metrics.member_request_timeouts.with_label_values(&[site]);
    Ok(
        kube::client::ClientBuilder::try_from(limits.apply_to(config))?
            // Cloneable, so that each call can wait for its slot inside its own deadline.
            .with_layer(&tower::buffer::BufferLayer::new(QUEUED_CALLS))
            .with_layer(&DeadlineLayer::new(limits, timeouts))
            .with_layer(&counting_layer(site, metrics))
            .build(),
    )
}

/// How calls to each member are bounded (the operator's `--member-*` flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberLimits {
    /// How long opening a connection to a member may take.
    pub connect_timeout: Duration,
    /// How long one call may take, start to end (for a watch: until it streams).
    pub request_timeout: Duration,
    /// How many calls to one site may be in flight at once (watches not counted).
    pub concurrency: usize,
}

impl Default for MemberLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            concurrency: 32,
        }
    }
}

impl MemberLimits {
    /// `config` with the connection-level timeouts set: connect, and write (a request stuck
    /// writing is as stuck as one waiting to read).
    pub fn apply_to(&self, mut config: kube::Config) -> kube::Config {
        config.connect_timeout = Some(self.connect_timeout);
        config.write_timeout = Some(self.request_timeout);
        config
    }
}

/// A call to a member that did not finish within its deadline.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error(
    "the member API server did not answer within {}s (--member-request-timeout)",
    after.as_secs_f64()
)]
pub struct MemberTimeout {
    /// The deadline that passed.
    pub after: Duration,
}

/// Wraps a member client's service: the deadline, the site's call slots, and the timeout count.
#[derive(Clone, Debug)]
pub struct DeadlineLayer {
    timeout: Duration,
    slots: Arc<Semaphore>,
    timeouts: IntCounter,
}

impl DeadlineLayer {
    /// `timeouts` counts the calls whose deadline passed (`soberana_member_request_timeouts_total`
    /// for this site).
    pub fn new(limits: &MemberLimits, timeouts: IntCounter) -> Self {
        Self {
            timeout: limits.request_timeout,
            slots: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            timeouts,
        }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            timeout: self.timeout,
            slots: self.slots.clone(),
            timeouts: self.timeouts.clone(),
        }
    }
}

/// The service made by [`DeadlineLayer`]. It is always ready: waiting for a slot happens inside
/// the call, under its deadline, so that a frozen site never blocks the client's shared queue.
#[derive(Clone, Debug)]
pub struct Deadline<S> {
    inner: S,
    timeout: Duration,
    slots: Arc<Semaphore>,
    timeouts: IntCounter,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<Body>> for Deadline<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: HttpBody + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<DeadlineBody<B>>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _context: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let watch = is_watch(&request);
        // A watch holds no slot: it lasts minutes by design and would starve the site's calls.
        let slots = (!watch).then(|| self.slots.clone());
        let timeout = self.timeout;
        let timeouts = self.timeouts.clone();
        let deadline = Instant::now() + timeout;
        Box::pin(async move {
            let exchange = async move {
                let _slot = match slots {
                    Some(slots) => Some(slots.acquire_owned().await?),
                    None => None,
                };
                inner.oneshot(request).await.map_err(Into::into)
            };
            match tokio::time::timeout_at(deadline, exchange).await {
                Ok(Ok(response)) => Ok(response.map(|body| DeadlineBody {
                    inner: body,
                    deadline: (!watch).then(|| Box::pin(tokio::time::sleep_until(deadline))),
                    timeout,
                    timeouts,
                })),
                Ok(Err(error)) => Err(error),
                Err(_) => {
                    timeouts.inc();
                    Err(MemberTimeout { after: timeout }.into())
                }
            }
        })
    }
}

/// A response body read under the call's deadline (none for a watch).
#[derive(Debug)]
pub struct DeadlineBody<B> {
    inner: B,
    deadline: Option<Pin<Box<Sleep>>>,
    timeout: Duration,
    timeouts: IntCounter,
}

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(context) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(context).is_ready()
        {
            this.deadline = None;
            this.timeouts.inc();
            return Poll::Ready(Some(Err(MemberTimeout {
                after: this.timeout,
            }
            .into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `error` (anywhere in its chain) is a member call whose deadline passed.
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<MemberTimeout>() {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use std::convert::Infallible;

    use futures::StreamExt;
    use http_body_util::{BodyExt, Full, StreamBody};
    use tower::service_fn;

    use super::*;

    fn counter() -> IntCounter {
        IntCounter::new("timeouts", "test").unwrap()
    }

    /// Short, so that the tests wait little; nothing here depends on how short.
    const DEADLINE: Duration = Duration::from_millis(100);

    fn limits(concurrency: usize) -> MemberLimits {
        MemberLimits {
            request_timeout: DEADLINE,
            concurrency,
            ..MemberLimits::default()
        }
    }

    fn get(uri: &str) -> Request<Body> {
        Request::get(uri).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn a_call_that_gets_no_answer_fails_at_its_deadline_and_is_counted() {
        let timeouts = counter();
        let frozen = service_fn(|_: Request<Body>| async {
            futures::future::pending::<Result<Response<Full<bytes::Bytes>>, Infallible>>().await
        });
        let service = DeadlineLayer::new(&limits(8), timeouts.clone()).layer(frozen);
        let error = service
            .oneshot(get("/api/v1/namespaces"))
            .await
            .unwrap_err();
        assert!(timed_out(&*error), "{error}");
        assert_eq!(
            error.to_string(),
            "the member API server did not answer within 0.1s (--member-request-timeout)"
        );
        assert_eq!(timeouts.get(), 1);
    }

    #[tokio::test]
    async fn a_body_that_stalls_fails_at_the_same_deadline() {
        let timeouts = counter();
        let stalls = service_fn(|_: Request<Body>| async {
            let frames = futures::stream::once(async {
                Ok::<_, Infallible>(Frame::data(bytes::Bytes::from_static(b"{\"items\":")))
            })
            .chain(futures::stream::pending());
            Ok::<_, Infallible>(Response::new(StreamBody::new(Box::pin(frames))))
        });
        let service = DeadlineLayer::new(&limits(8), timeouts.clone()).layer(stalls);
        let response = service.oneshot(get("/api/v1/namespaces")).await.unwrap();
        let error = response.into_body().collect().await.unwrap_err();
        assert!(timed_out(&*error), "{error}");
        assert_eq!(timeouts.get(), 1);
    }

    #[tokio::test]
    async fn a_watch_streams_past_the_deadline_and_holds_no_slot() {
        let timeouts = counter();
        let streams = service_fn(|_: Request<Body>| async {
            let frames = futures::stream::once(async {
                tokio::time::sleep(DEADLINE * 3).await;
                Ok::<_, Infallible>(Frame::data(bytes::Bytes::from_static(b"{}")))
            });
            Ok::<_, Infallible>(Response::new(StreamBody::new(Box::pin(frames))))
        });
        let layer = DeadlineLayer::new(&limits(1), timeouts.clone());
        let watch = layer
            .layer(streams)
            .oneshot(get("/api/v1/namespaces?watch=true"))
            .await
            .unwrap();
        // The one slot is free for a plain call while the watch runs.
        let answers = service_fn(|_: Request<Body>| async {
            Ok::<_, Infallible>(Response::new(Full::new(bytes::Bytes::from_static(b"{}"))))
        });
        layer
            .layer(answers)
            .oneshot(get("/api/v1/namespaces"))
            .await
            .unwrap();
        let body = watch.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"{}");
        assert_eq!(timeouts.get(), 0);
    }

    #[tokio::test]
    async fn calls_beyond_the_sites_slots_wait_within_their_own_deadline() {
        let timeouts = counter();
        let frozen = service_fn(|_: Request<Body>| async {
            futures::future::pending::<Result<Response<Full<bytes::Bytes>>, Infallible>>().await
        });
        let layer = DeadlineLayer::new(&limits(2), timeouts.clone());
        let calls = (0..5).map(|_| layer.layer(frozen).oneshot(get("/api/v1/namespaces")));
        let results = futures::future::join_all(calls).await;
        // Those that waited for a slot failed at their own deadline too, not one deadline later.
        assert!(
            results
                .iter()
                .all(|result| result.as_ref().is_err_and(|error| timed_out(&**error)))
        );
        assert_eq!(timeouts.get(), 5);
    }
}
