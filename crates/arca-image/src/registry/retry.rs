//! Trying a registry request again when the failure is the network's or the registry's
//! momentary state, not the request's: connection errors and resets, timeouts, HTTP 5xx and
//! 429. Never a 401/403/404 (asking again changes nothing) nor a digest mismatch (the registry
//! is serving wrong bytes; the store refuses them however often they come).
//!
//! Exponential backoff with jitter, as Docker and containers/image do: many clients failing
//! at the same moment (a registry restart) must not all come back at the same moment.
//! A 429's `Retry-After` (in seconds) is waited for when it is short; a long one is reported
//! at once rather than hanging the pull.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use super::PullError;

/// How often and how patiently a pull retries. The default: 4 attempts, waits of about
/// 0.25 s, 0.5 s, 1 s between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (1: never retry).
    pub attempts: u32,
    /// The wait before the first retry; each further one doubles it.
    pub base_delay: Duration,
    /// No wait is longer (jitter included).
    pub max_delay: Duration,
    /// The longest `Retry-After` waited for; a registry asking for more fails the pull.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first): `base · 2^retry`, capped, then
    /// a random point in its upper half ("equal jitter": never much shorter than planned).
    pub(super) fn backoff(&self, retry: u32) -> Duration {
        let planned = self
            .base_delay
            .saturating_mul(1u32 << retry.min(16))
            .min(self.max_delay);
        let half = planned / 2;
        half + half.mul_f64(random_unit())
    }

    /// How long to wait before trying again after `e`, or `None` when `e` is not worth
    /// another attempt.
    pub(super) fn wait(&self, e: &PullError, retry: u32) -> Option<Duration> {
        let backoff = self.backoff(retry);
        match e {
            PullError::TooManyRequests { retry_after, .. } => match retry_after {
                Some(after) if *after > self.max_retry_after => None,
                Some(after) => Some((*after).max(backoff)),
                None => Some(backoff),
            },
            PullError::Http { status, .. } if *status >= 500 => Some(backoff),
            PullError::Transport { source, .. } => {
                (!source.is_builder() && !source.is_redirect()).then_some(backoff)
            }
            _ => None,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts are used up; the
    /// last error is the one returned.
    pub(super) async fn run<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, PullError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PullError>>,
    {
        let mut retry = 0;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let wait = (retry + 1 < self.attempts)
                        .then(|| self.wait(&e, retry))
                        .flatten();
                    let Some(wait) = wait else { return Err(e) };
                    tracing::warn!(
                        "{what}: {}; retrying in {} ms ({} of {})",
                        cause(&e),
                        wait.as_millis(),
                        retry + 2,
                        self.attempts
                    );
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
            }
        }
    }
}

/// The innermost cause of `e`: the reason a retry log line gives (the error's own text
/// repeats the reference and `what`, which the line already has).
fn cause(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

/// A number in [0, 1) that differs between calls and processes; jitter needs no more. The
/// standard library's per-instance SipHash keys are random, which saves a dependency.
fn random_unit() -> f64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `Retry-After` as a duration: the delay-seconds form. The HTTP-date form is rare from
/// registries and is treated as absent (the backoff applies).
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_jittered_and_capped() {
        let p = RetryPolicy::default();
        for retry in 0..3 {
            let planned = Duration::from_millis(250 << retry);
            for _ in 0..50 {
                let d = p.backoff(retry);
                assert!(d >= planned / 2 && d <= planned, "{retry}: {d:?}");
            }
        }
        assert!(p.backoff(30) <= p.max_delay);
        let waits: std::collections::BTreeSet<_> = (0..20).map(|_| p.backoff(2)).collect();
        assert!(waits.len() > 1, "jitter varies");
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
