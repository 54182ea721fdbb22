//! Waiting on a condition with a deadline, never a bare sleep.

use std::future::Future;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::time::Instant;

/// How often a condition is checked again.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Checks `condition` until it returns `Ok(true)` or `timeout` passes. The error names `what` was
/// awaited and the last error the check returned, if any.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut condition: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last_error = match condition().await {
            Ok(true) => return Ok(()),
            Ok(false) => None,
            Err(error) if error.is::<Fatal>() => {
                return Err(error.context(format!("waiting for {what}")));
            }
            Err(error) => Some(error),
        };
        if Instant::now() >= deadline {
            match last_error {
                Some(error) => bail!("timed out after {timeout:?} waiting for {what}: {error:#}"),
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// An error that ends a wait at once (e.g. the awaited process has exited), instead of being
/// retried until the deadline.
#[derive(Debug)]
pub struct Fatal(pub String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for Fatal {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_timeout_names_what_was_awaited_and_the_last_error() {
        let error = wait_until("the answer", Duration::from_secs(2), || async {
            anyhow::bail!("not yet")
        })
        .await
        .expect_err("never true");
        let message = format!("{error:#}");
        assert!(
            message.contains("waiting for the answer: not yet"),
            "{message}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_error_ends_the_wait_at_once() {
        let mut calls = 0;
        let error = wait_until("a process", Duration::from_secs(60), || {
            calls += 1;
            async { Err(Fatal("it exited".to_owned()).into()) }
        })
        .await
        .expect_err("fatal");
        assert_eq!(calls, 1);
        assert!(format!("{error:#}").contains("it exited"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_condition_that_turns_true_ends_the_wait() {
        let mut calls = 0;
        wait_until("the third check", Duration::from_secs(60), || {
            calls += 1;
            let done = calls == 3;
            async move { Ok(done) }
        })
        .await
        .expect("true on the third call");
        assert_eq!(calls, 3);
    }
}
