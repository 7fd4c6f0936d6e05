//! A JetStream stream sequence: per stream, starting at 1, never reused.

use std::fmt;
use std::num::NonZeroU64;

/// Position of a message in its stream; zero is not a sequence (and does not deserialize
/// as one).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Sequence(NonZeroU64);

impl Sequence {
    pub const FIRST: Sequence = Sequence(NonZeroU64::MIN);

    /// `None` for zero.
    pub fn new(value: u64) -> Option<Self> {
        NonZeroU64::new(value).map(Self)
    }

    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The sequence after this one (saturating: u64::MAX is never reached in practice).
    pub fn next(self) -> Sequence {
        Sequence(self.0.saturating_add(1))
    }
}

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
