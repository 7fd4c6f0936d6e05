//! A work queue: tasks in named lanes, each task handed to one taker at a time (across every
//! instance on the jetstream engine), kept until acknowledged, handed again after a delay
//! when the taker asks for one (a retry) or after it vanished (a crash). A lane hands out
//! at most `max_pending` tasks not yet acknowledged, delayed ones included, so a lane of one
//! keeps its tasks in order even through retries. Tasks carry an id; a task enqueued again
//! with an id seen within the duplicate window is dropped. Tasks also carry a key (whose
//! work it is): the backlog is counted by lane and key, and a key's tasks can be moved to
//! another lane or dropped in every lane at once.
//!
//! The jetstream engine is a work-queue stream with subject `<prefix>.<lane>.<key>` and one
//! durable pull consumer per lane that is taken (a lane nobody takes is a parking place:
//! its tasks wait); the memory engine keeps the same rules in process.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;

use super::error::StoreError;
pub(crate) use super::jetstream::work_queue::JetstreamQueue;
pub(crate) use super::memory::work_queue::MemoryQueue;

/// How long a task id is remembered for de-duplication.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// A task to enqueue: the lane, an id unique to the work, and what the taker needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub lane: String,
    pub key: String,
    pub id: String,
    pub payload: Bytes,
}

/// Tasks not yet acknowledged, by lane and key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog(pub HashMap<(String, String), u64>);

impl Backlog {
    /// A key's tasks over every lane.
    pub fn of_key(&self, key: &str) -> u64 {
        self.0
            .iter()
            .filter(|((_, of), _)| of == key)
            .map(|(_, count)| count)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// How a lane is consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneConfig {
    /// Tasks handed out and not yet acknowledged, delayed retries included.
    pub max_pending: usize,
    /// How long a taker may hold a task without a sign of life before it goes to another.
    pub ack_wait: Duration,
}

/// What a taker does with a task it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Done: the task goes.
    Ack,
    /// Hand it out again after this delay (it keeps its place and its pending slot).
    Retry(Duration),
    /// Still working on it: restarts the ack wait.
    Progress,
}

/// The queue of the configured engine.
#[derive(Clone)]
pub enum WorkQueue {
    Memory(MemoryQueue),
    Jetstream(Box<JetstreamQueue>),
}

/// One lane's tasks as one taker receives them.
pub enum Lane {
    Memory(super::memory::work_queue::MemoryLane),
    Jetstream(Box<super::jetstream::work_queue::JetstreamLane>),
}

/// A task held by a taker, until settled.
pub struct Lease {
    pub id: String,
    pub key: String,
    pub payload: Bytes,
    /// How many times the task has been handed out, this time included.
    pub deliveries: u64,
    pub(crate) hold: Hold,
}

pub(crate) enum Hold {
    Memory(super::memory::work_queue::MemoryHold),
    Jetstream(Box<async_nats::jetstream::Message>),
}

impl WorkQueue {
    /// Adds tasks (all acknowledged by the store when this returns `Ok`).
    pub async fn enqueue(&self, tasks: Vec<Task>) -> Result<(), StoreError> {
        match self {
            Self::Memory(queue) => queue.enqueue(tasks),
            Self::Jetstream(queue) => queue.enqueue(tasks).await,
        }
    }

    /// Starts taking from `lane` (the lane's consumer is made, or changed to `config`).
    pub async fn take(&self, lane: &str, config: LaneConfig) -> Result<Lane, StoreError> {
        match self {
            Self::Memory(queue) => Ok(Lane::Memory(queue.take(lane, config)?)),
            Self::Jetstream(queue) => {
                Ok(Lane::Jetstream(Box::new(queue.take(lane, config).await?)))
            }
        }
    }

    /// Tasks not yet acknowledged, by lane and key (none: absent).
    pub async fn backlog(&self) -> Result<Backlog, StoreError> {
        match self {
            Self::Memory(queue) => queue.backlog(),
            Self::Jetstream(queue) => queue.backlog().await,
        }
    }

    /// Drops every task of `key` in every lane, and the lanes `own_lanes` (the key's own:
    /// their takers end); answers how many tasks went.
    pub async fn discard(&self, key: &str, own_lanes: &[&str]) -> Result<u64, StoreError> {
        match self {
            Self::Memory(queue) => queue.discard(key, own_lanes),
            Self::Jetstream(queue) => queue.discard(key, own_lanes).await,
        }
    }

    /// Moves the tasks of `key` waiting in lane `from` to lane `to` (as new tasks: ready,
    /// delivery count from zero). `from` must be a lane nobody takes (a parking place), or
    /// the key's own lane, whose taking ends here (`from_is_taken`). Answers how many moved.
    pub async fn relocate(
        &self,
        from: &str,
        key: &str,
        to: &str,
        from_is_taken: bool,
    ) -> Result<u64, StoreError> {
        match self {
            Self::Memory(queue) => queue.relocate(from, key, to),
            Self::Jetstream(queue) => queue.relocate(from, key, to, from_is_taken).await,
        }
    }
}

impl Lane {
    /// The next task, waiting for one; `None` when the lane ended (discarded, or the store
    /// closed) or on an error, which the caller reports before taking anew.
    pub async fn next(&mut self) -> Option<Result<Lease, StoreError>> {
        match self {
            Self::Memory(lane) => lane.next().await.map(Ok),
            Self::Jetstream(lane) => lane.next().await,
        }
    }
}

impl Lease {
    pub async fn settle(self, settle: Settle) -> Result<(), StoreError> {
        match self.hold {
            Hold::Memory(hold) => {
                hold.settle(settle);
                Ok(())
            }
            Hold::Jetstream(message) => {
                super::jetstream::work_queue::settle(&message, settle).await
            }
        }
    }

    /// Restarts the ack wait and keeps the lease (for work that outlasts it).
    pub async fn progress(&self) -> Result<(), StoreError> {
        match &self.hold {
            Hold::Memory(_) => Ok(()),
            Hold::Jetstream(message) => {
                super::jetstream::work_queue::settle(message, Settle::Progress).await
            }
        }
    }
}
