//! Where history starts and ends: one vocabulary from the request (`from_id`, `from_date`,
//! `to_id`, `to_date`, `Last-Event-ID`) through the stream session to the store's reads.

use chrono::{DateTime, Utc};

use super::Sequence;

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The first retained message (`from_id` 0).
    Beginning,
    /// This sequence, inclusive.
    Sequence(Sequence),
    /// The first message stored at or after this time.
    Time(DateTime<Utc>),
}

/// Where history ends, inclusive (besides the boundary captured when the stream opened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Sequence(u64),
    Time(DateTime<Utc>),
}

impl Start {
    /// `from_id` as a client sends it: inclusive, 0 meaning the beginning.
    pub fn from_id(id: u64) -> Self {
        Sequence::new(id).map_or(Start::Beginning, Start::Sequence)
    }
}
