//! Creating the R1 consumers of reads and listings. nats-server puts the R1 consumer of a
//! replicated stream on a random peer it believes online, and for some seconds after a
//! server dies it still believes so: a creation placed there goes unanswered until it times
//! out (a replay right after a stream leader was killed failed so in CI). Each new try lands
//! on another random peer, so a creation that timed out is tried again.

use std::future::Future;

use async_nats::jetstream::stream::{ConsumerError, ConsumerErrorKind};

/// How many times a consumer creation is tried before its error is reported.
pub(crate) const CREATE_ATTEMPTS: usize = 3;

/// Runs `create` until it succeeds, fails otherwise than by timing out, or was tried
/// [`CREATE_ATTEMPTS`] times.
pub(crate) async fn create_retrying<T, Attempt>(
    what: &str,
    mut create: impl FnMut() -> Attempt,
) -> Result<T, ConsumerError>
where
    Attempt: Future<Output = Result<T, ConsumerError>>,
{
    let mut attempt = 1;
    loop {
        match create().await {
            Err(error)
                if attempt < CREATE_ATTEMPTS && error.kind() == ConsumerErrorKind::TimedOut =>
            {
                tracing::debug!(what, attempt, "consumer creation timed out; trying again");
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    async fn run(failures: &[ConsumerErrorKind]) -> (Result<u32, ConsumerErrorKind>, usize) {
        let calls = Cell::new(0);
        let outcome = create_retrying("test", || {
            let call = calls.get();
            calls.set(call + 1);
            let failure = failures.get(call).cloned();
            async move {
                match failure {
                    Some(kind) => Err(ConsumerError::new(kind)),
                    None => Ok(7),
                }
            }
        })
        .await
        .map_err(|error| error.kind());
        (outcome, calls.get())
    }

    #[tokio::test]
    async fn a_timed_out_creation_is_tried_again_up_to_the_limit() {
        use ConsumerErrorKind::{InvalidName, TimedOut};
        assert_eq!(run(&[]).await, (Ok(7), 1));
        assert_eq!(run(&[TimedOut, TimedOut]).await, (Ok(7), 3));
        assert_eq!(
            run(&[TimedOut, TimedOut, TimedOut]).await,
            (Err(TimedOut), 3)
        );
        // A refusal is final.
        assert_eq!(run(&[InvalidName]).await, (Err(InvalidName), 1));
    }
}
