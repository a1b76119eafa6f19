//! Time limits and retries: the one timeout wrapper ([`bounded`]) and the
//! one retry/poll loop ([`retry`]) that every backend wait goes through,
//! and the background connector built on it ([`connect_in_background`]).

use crate::error::StoreError;
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, Weak,
};
use std::{fmt::Display, future::Future, time::Duration};
use tokio::time::Instant;

/// `fut`, failing with [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut)
/// (described as `context`) after `limit`.
pub(crate) async fn bounded<T>(
    limit: Duration,
    context: &'static str,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| Err(StoreError::timed_out(context)))
}

/// Pauses between attempts: `first`, doubling up to `max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) first: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    /// Between attempts of a write repeated in the background until it
    /// lands (an entry withdrawn, a lease released): 50 ms, doubling up to
    /// 500 ms.
    pub(crate) const BACKGROUND_WRITE: Self = Self {
        first: Duration::from_millis(50),
        max: Duration::from_millis(500),
    };

    /// The same pause every time.
    pub(crate) const fn constant(pause: Duration) -> Self {
        Self {
            first: pause,
            max: pause,
        }
    }
}

/// What one attempt of [`retry`] came to.
pub(crate) enum Step<T> {
    /// Finished, with this result.
    Done(T),
    /// Try again after the next pause.
    Again,
    /// Try again after the first pause (the attempt got somewhere, as a
    /// subscription that worked for a while before it was lost).
    AgainFromStart,
}

/// Runs `attempt` until it is done, pausing by `backoff` between attempts,
/// and gives up (`None`) when the next pause would end past `deadline`.
pub(crate) async fn retry<T, F, Fut>(
    backoff: Backoff,
    deadline: Option<Instant>,
    mut attempt: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Step<T>>,
{
    let mut pause = backoff.first;
    loop {
        match attempt().await {
            Step::Done(value) => return Some(value),
            Step::Again => {}
            Step::AgainFromStart => pause = backoff.first,
        }
        if deadline.is_some_and(|deadline| Instant::now() + pause >= deadline) {
            return None;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(backoff.max);
    }
}

/// `now + wait`, or a day from now when that overflows.
pub(crate) fn deadline_after(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait)
        .unwrap_or(now + Duration::from_secs(86_400))
}

/// Runs `attempt` in a task of its own, so that no caller's timeout can
/// cancel it half way, retrying with `backoff` (logging `message` at
/// `debug` after each failure) until it succeeds or `owner` is dropped.
/// `busy`, which the caller set, is cleared when there is no runtime to
/// run on, so that a later call tries again.
pub(crate) fn connect_in_background<O, F, Fut, E>(
    busy: &AtomicBool,
    owner: Weak<O>,
    backoff: Backoff,
    message: &'static str,
    attempt: F,
) where
    O: Send + Sync + 'static,
    F: Fn(Arc<O>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Display,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        busy.store(false, Ordering::Release);
        return;
    };
    runtime.spawn(async move {
        let (owner, attempt) = (&owner, &attempt);
        retry(backoff, None, || async move {
            let Some(owner) = owner.upgrade() else {
                return Step::Done(());
            };
            match attempt(owner).await {
                Ok(()) => Step::Done(()),
                Err(e) => {
                    tracing::debug!(error = %e, "{message}");
                    Step::Again
                }
            }
        })
        .await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[tokio::test(start_paused = true)]
    async fn retries_with_backoff_until_done_or_deadline() {
        let mut attempts = 0;
        let started = Instant::now();
        let done = retry(
            Backoff {
                first: Duration::from_millis(10),
                max: Duration::from_millis(40),
            },
            None,
            || {
                attempts += 1;
                let n = attempts;
                async move {
                    if n == 5 {
                        Step::Done(n)
                    } else {
                        Step::Again
                    }
                }
            },
        )
        .await;
        assert_eq!(done, Some(5));
        // 10 + 20 + 40 + 40 ms of pauses.
        assert_eq!(started.elapsed(), Duration::from_millis(110));

        let gave_up = retry(
            Backoff::constant(Duration::from_millis(10)),
            Some(deadline_after(Duration::from_millis(35))),
            || async { Step::<()>::Again },
        )
        .await;
        assert_eq!(gave_up, None);
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_times_out_with_its_kind() {
        let slow = bounded(Duration::from_millis(5), "get", async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(())
        })
        .await;
        assert_eq!(slow.unwrap_err().kind(), ErrorKind::TimedOut);
    }
}
