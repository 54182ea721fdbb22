//! Mutating work in flight, one task per request: a client that retries while its first attempt
//! is still at work (its deadline passed while etcd or Kubernetes was slow) joins that attempt
//! and gets its answer, rather than starting the same work a second time beside it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tonic::Status;

use crate::server::lock;

/// The encoded answer of one request's work, awaited by every attempt of that request.
type Work = Shared<BoxFuture<'static, Result<Vec<u8>, Status>>>;

/// Request work running on this replica, by request key.
#[derive(Default)]
pub struct InFlight {
    running: Mutex<HashMap<String, Work>>,
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("InFlight")
            .field("running", &lock(&self.running).len())
            .finish()
    }
}

impl InFlight {
    /// Starts `work` for `key` in a task of its own, unless that key's work is running already,
    /// and waits for the result. The task runs to the end even when nobody waits any more.
    pub async fn join(
        self: &Arc<Self>,
        key: &str,
        work: impl Future<Output = Result<Vec<u8>, Status>> + Send + 'static,
    ) -> Result<Vec<u8>, Status> {
        let running = {
            let mut running = lock(&self.running);
            match running.get(key) {
                Some(running) => running.clone(),
                None => {
                    let (registry, owned_key) = (Arc::clone(self), key.to_owned());
                    // The task removes its entry only after this lock is released, so it
                    // cannot remove it before it is inserted.
                    let task = tokio::spawn(async move {
                        let result = work.await;
                        lock(&registry.running).remove(&owned_key);
                        result
                    });
                    let started: Work = async move {
                        task.await.unwrap_or_else(|error| {
                            Err(Status::internal(format!(
                                "the call's work stopped: {error}"
                            )))
                        })
                    }
                    .boxed()
                    .shared();
                    running.insert(key.to_owned(), started.clone());
                    started
                }
            }
        };
        running.await
    }

    /// How many requests are at work now.
    pub fn len(&self) -> usize {
        lock(&self.running).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_retry_joins_the_running_attempt_and_the_work_runs_once() {
        let in_flight = Arc::new(InFlight::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let work = |released: tokio::sync::oneshot::Receiver<()>| {
            let runs = Arc::clone(&runs);
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                let _ = released.await;
                Ok(b"answer".to_vec())
            }
        };
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let mut first = Box::pin(in_flight.join("key", work(released)));
        // A first poll registers the attempt (and starts its task); its work waits for release.
        assert!(futures::poll!(&mut first).is_pending());
        // Work of its own would finish at once (and count a second run).
        let (_, already_released) = tokio::sync::oneshot::channel::<()>();
        let mut retry = Box::pin(in_flight.join("key", work(already_released)));
        assert!(futures::poll!(&mut retry).is_pending());
        release.send(()).unwrap_or_default();
        assert_eq!(first.await.ok(), Some(b"answer".to_vec()));
        assert_eq!(retry.await.ok(), Some(b"answer".to_vec()));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(in_flight.is_empty());
    }

    #[tokio::test]
    async fn abandoned_work_still_completes() {
        let in_flight = Arc::new(InFlight::default());
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        let mut waiting = Box::pin(in_flight.join("key", async move {
            tokio::task::yield_now().await;
            let _ = done.send(());
            Ok(Vec::new())
        }));
        assert!(futures::poll!(&mut waiting).is_pending());
        drop(waiting);
        // Bounded only so that work which never runs fails the test instead of hanging it.
        let finished = tokio::time::timeout(std::time::Duration::from_secs(10), finished).await;
        assert!(
            matches!(finished, Ok(Ok(()))),
            "the work stopped with its caller"
        );
    }
}
