//! The memory engine's idempotency keys: the sequence each key stored and the fingerprint of
//! its request, forgotten after the duplicate window. Keys are seen in time order, so expiry
//! pops the front of a queue instead of scanning every key on every publish.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::types::Fingerprint;
use crate::domain::Sequence;

/// What a key stood for when it was first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyUse {
    pub sequence: Sequence,
    pub fingerprint: Fingerprint,
}

/// Keys within the window, plus the order in which they expire.
#[derive(Debug, Default)]
pub(crate) struct IdempotencyIndex {
    keys: HashMap<String, (KeyUse, Instant)>,
    /// `(seen, key)` in the order of `seen`: callers insert under the stream lock with a
    /// monotonic clock, so the front is always the oldest.
    expiry: VecDeque<(Instant, String)>,
}

impl IdempotencyIndex {
    /// Forgets every key seen `window` or longer before `now`.
    pub(crate) fn expire(&mut self, now: Instant, window: Duration) {
        while let Some((seen, _)) = self.expiry.front() {
            if now.saturating_duration_since(*seen) < window {
                break;
            }
            let Some((seen, key)) = self.expiry.pop_front() else {
                break;
            };
            if self.keys.get(&key).is_some_and(|(_, at)| *at == seen) {
                self.keys.remove(&key);
            }
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<KeyUse> {
        self.keys.get(key).map(|(entry, _)| *entry)
    }

    /// Records a key first seen at `now` (not after any key recorded before it).
    pub(crate) fn insert(&mut self, key: String, entry: KeyUse, now: Instant) {
        self.expiry.push_back((now, key.clone()));
        self.keys.insert(key, (entry, now));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(sequence: u64) -> KeyUse {
        KeyUse {
            sequence: Sequence::new(sequence).unwrap(),
            fingerprint: crate::store::Publication {
                stream: crate::domain::StreamKey::new("s"),
                subject: crate::subject::Subject::build("s", ["x"]).unwrap(),
                headers: Vec::new(),
                payload: bytes::Bytes::new(),
                idempotency_key: None,
            }
            .fingerprint(),
        }
    }

    #[test]
    fn keys_expire_exactly_when_the_window_has_passed_oldest_first() {
        let window = Duration::from_secs(120);
        let start = Instant::now();
        let mut index = IdempotencyIndex::default();
        index.insert("a".to_owned(), used(1), start);
        index.insert("b".to_owned(), used(2), start + Duration::from_secs(60));
        index.expire(start + window - Duration::from_millis(1), window);
        assert_eq!(index.get("a"), Some(used(1)), "still inside the window");
        index.expire(start + window, window);
        assert_eq!(index.get("a"), None, "gone once the window has passed");
        assert_eq!(index.get("b"), Some(used(2)));
        index.expire(start + Duration::from_secs(180), window);
        assert_eq!(index.len(), 0);
        assert!(index.expiry.is_empty());
    }

    #[test]
    fn a_key_seen_again_after_expiry_lives_a_full_window() {
        let window = Duration::from_secs(10);
        let start = Instant::now();
        let mut index = IdempotencyIndex::default();
        index.insert("k".to_owned(), used(1), start);
        let later = start + Duration::from_secs(10);
        index.expire(later, window);
        index.insert("k".to_owned(), used(7), later);
        index.expire(later + Duration::from_secs(9), window);
        assert_eq!(index.get("k"), Some(used(7)));
        index.expire(later + window, window);
        assert_eq!(index.get("k"), None);
    }

    #[test]
    fn many_keys_seen_together_expire_together() {
        let window = Duration::from_secs(1);
        let start = Instant::now();
        let mut index = IdempotencyIndex::default();
        for n in 0..40_000u64 {
            index.insert(format!("key-{n}"), used(n + 1), start);
        }
        index.insert("fresh".to_owned(), used(40_001), start + window);
        index.expire(start + window, window);
        assert_eq!(index.len(), 1);
        assert_eq!(index.expiry.len(), 1);
    }
}
