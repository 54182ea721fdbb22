//! A deadline on every call of a Kubernetes client, and a bound on how many are in flight.
//!
//! An API server that stops answering (frozen, overloaded, or a half-open pooled connection)
//! would otherwise keep a caller waiting until TCP gives up. Each call gets a whole-request
//! deadline: from the moment it is made (waiting for a call slot included) until the last byte of
//! the answer is read. A watch is a long request by design: its deadline covers only the wait
//! until it starts streaming; after that, kube's watcher asks the server to end it within minutes
//! (`timeoutSeconds`) and the client's read timeout catches a stream gone silent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use http::{Method, Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use kube::client::Body;
use prometheus::IntCounter;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::{BoxError, Layer, Service, ServiceExt};

/// A call that did not finish within its deadline.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error(
    "the {server} API server did not answer within {}s ({flag})",
    after.as_secs_f64()
)]
pub struct RequestTimeout {
    /// Whose API server: `member`, `management`.
    pub server: &'static str,
    /// The flag that sets the deadline, for the operator who reads the error.
    pub flag: &'static str,
    /// The deadline that passed.
    pub after: Duration,
}

/// The deadline one client's calls get, and how it is named in their errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestDeadline {
    /// Whose API server: `member`, `management`.
    pub server: &'static str,
    /// The flag that sets it.
    pub flag: &'static str,
    /// How long one call may take, start to end (for a watch: until it streams).
    pub timeout: Duration,
}

/// Wraps a client's service: the deadline, the server's call slots (if bounded), and the timeout
/// count.
#[derive(Clone, Debug)]
pub struct DeadlineLayer {
    deadline: RequestDeadline,
    slots: Option<Arc<Semaphore>>,
    timeouts: IntCounter,
}

impl DeadlineLayer {
    /// At most `concurrency` calls in flight at once (`None`: unbounded); `timeouts` counts the
    /// calls whose deadline passed.
    pub fn new(
        deadline: RequestDeadline,
        concurrency: Option<usize>,
        timeouts: IntCounter,
    ) -> Self {
        Self {
            deadline,
            slots: concurrency.map(|slots| Arc::new(Semaphore::new(slots.max(1)))),
            timeouts,
        }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            deadline: self.deadline,
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
    deadline: RequestDeadline,
    slots: Option<Arc<Semaphore>>,
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
        let slots = self.slots.clone().filter(|_| !watch);
        let limit = self.deadline;
        let timeouts = self.timeouts.clone();
        let deadline = Instant::now() + limit.timeout;
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
                    limit,
                    timeouts,
                })),
                Ok(Err(error)) => Err(error),
                Err(_) => {
                    timeouts.inc();
                    Err(limit.exceeded().into())
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
    limit: RequestDeadline,
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
            return Poll::Ready(Some(Err(this.limit.exceeded().into())));
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

impl RequestDeadline {
    /// The error of a call that took longer.
    fn exceeded(&self) -> RequestTimeout {
        RequestTimeout {
            server: self.server,
            flag: self.flag,
            after: self.timeout,
        }
    }
}

/// Whether `request` is a watch: a long request that streams events.
pub fn is_watch<B>(request: &Request<B>) -> bool {
    let query = request.uri().query().unwrap_or_default();
    request.method() == Method::GET
        && query
            .split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
}

/// Whether `error` (anywhere in its chain) is a call whose deadline passed.
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<RequestTimeout>() {
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

    fn layer(concurrency: usize, timeouts: &IntCounter) -> DeadlineLayer {
        let deadline = RequestDeadline {
            server: "member",
            flag: "--member-request-timeout",
            timeout: DEADLINE,
        };
        DeadlineLayer::new(deadline, Some(concurrency), timeouts.clone())
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
        let service = layer(8, &timeouts).layer(frozen);
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
        let service = layer(8, &timeouts).layer(stalls);
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
        let layer = layer(1, &timeouts);
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
        let layer = layer(2, &timeouts);
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
