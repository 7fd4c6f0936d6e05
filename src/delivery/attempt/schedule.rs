//! The retry schedule (DELIVERY.md §4, §8): how long to wait after a failed attempt, kept
//! pure so the scheduler's arithmetic is tested apart from clocks and randomness.

use std::time::Duration;

/// The longest delay a `Retry-After` can ask for (§4).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// How far jitter moves a delay of the schedule: ±20 % (§4), so that deliveries failing
/// together (one receiver down) do not all come back at the same instant.
const JITTER_SHARE: f64 = 0.2;

/// The delay before the next attempt, counted from the end of the last one (§8), or `None`
/// when the schedule is spent and the delivery ends `failed`.
///
/// - `schedule`: the destination's delays between attempts (attempts = 1 + delays).
/// - `failed_attempts`: failed attempts so far, the one just made included; `0` means nothing
///   failed, so there is nothing to retry (`None`).
/// - `retry_after`: what the last response asked for ([`super::Outcome::retry_after`]). It
///   replaces the schedule's delay, unjittered since the receiver named it, and capped at
///   [`MAX_RETRY_AFTER`]; it never adds an attempt the schedule does not have.
/// - `jitter`: a uniform random number in `[-1, 1]` (clamped; not finite counts as `0`),
///   moving the schedule's delay by up to ±20 %.
pub fn next_delay(
    schedule: &[Duration],
    failed_attempts: usize,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    let delay = *schedule.get(failed_attempts.checked_sub(1)?)?;
    Some(match retry_after {
        Some(asked) => asked.min(MAX_RETRY_AFTER),
        None => jittered(delay, jitter),
    })
}

/// `delay` moved by `jitter` × 20 %; the delay itself if the product is not a duration
/// (only for delays near `Duration::MAX`, which no schedule holds).
fn jittered(delay: Duration, jitter: f64) -> Duration {
    let jitter = if jitter.is_finite() {
        jitter.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let factor = 1.0 + JITTER_SHARE * jitter;
    Duration::try_from_secs_f64(delay.as_secs_f64() * factor).unwrap_or(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn schedule() -> Vec<Duration> {
        [5, 300, 1800].map(Duration::from_secs).to_vec()
    }

    #[test]
    fn each_failure_takes_the_next_delay_until_the_schedule_is_spent() {
        let schedule = schedule();
        assert_eq!(next_delay(&schedule, 1, None, 0.0), Some(5 * SECOND));
        assert_eq!(next_delay(&schedule, 2, None, 0.0), Some(300 * SECOND));
        assert_eq!(next_delay(&schedule, 3, None, 0.0), Some(1800 * SECOND));
        assert_eq!(next_delay(&schedule, 4, None, 0.0), None);
        assert_eq!(next_delay(&schedule, 0, None, 0.0), None, "nothing failed");
        assert_eq!(next_delay(&[], 1, None, 0.0), None, "a single attempt");
    }

    #[test]
    fn jitter_moves_the_delay_by_at_most_a_fifth() {
        let schedule = schedule();
        assert_eq!(next_delay(&schedule, 2, None, 1.0), Some(360 * SECOND));
        assert_eq!(next_delay(&schedule, 2, None, -1.0), Some(240 * SECOND));
        assert_eq!(next_delay(&schedule, 2, None, 0.5), Some(330 * SECOND));
        assert_eq!(next_delay(&schedule, 2, None, 7.0), Some(360 * SECOND));
        assert_eq!(next_delay(&schedule, 2, None, -7.0), Some(240 * SECOND));
        for odd in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(next_delay(&schedule, 2, None, odd), Some(300 * SECOND));
        }
        for step in -100..=100 {
            let jitter = f64::from(step) / 100.0;
            let delay = next_delay(&schedule, 1, None, jitter).unwrap();
            assert!(
                delay >= 4 * SECOND && delay <= 6 * SECOND,
                "{jitter}: {delay:?}"
            );
        }
    }

    #[test]
    fn retry_after_replaces_the_delay_without_jitter_or_extra_attempts() {
        let schedule = schedule();
        let asked = Some(42 * SECOND);
        assert_eq!(next_delay(&schedule, 1, asked, 1.0), Some(42 * SECOND));
        assert_eq!(next_delay(&schedule, 3, asked, -1.0), Some(42 * SECOND));
        assert_eq!(
            next_delay(&schedule, 4, asked, 0.0),
            None,
            "never an extra attempt"
        );
        assert_eq!(
            next_delay(&schedule, 1, Some(Duration::ZERO), 0.0),
            Some(Duration::ZERO)
        );
        assert_eq!(
            next_delay(&schedule, 1, Some(5 * MAX_RETRY_AFTER), 0.0),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn huge_delays_do_not_panic() {
        let delay = next_delay(&[Duration::MAX], 1, None, 1.0);
        assert_eq!(delay, Some(Duration::MAX));
    }
}
