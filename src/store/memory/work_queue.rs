//! The memory engine's work queue (rules in [`crate::store::work_queue`]): per lane, tasks
//! in enqueue order, each ready, leased or delayed; a lease dropped without being settled
//! (its taker went away) makes its task ready again at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::store::error::{Failure, Lock, StoreError};
use crate::store::work_queue::{DUPLICATE_WINDOW, Hold, LaneConfig, Lease, Settle, Task};

fn poisoned() -> StoreError {
    StoreError::Backend(Failure::Poisoned(Lock::MemoryStream))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Ready,
    Leased,
    Delayed(Instant),
}

struct Entry {
    id: String,
    payload: Bytes,
    standing: Standing,
    deliveries: u64,
}

/// One lane's tasks by their place (enqueue order).
#[derive(Default)]
struct Tasks {
    entries: BTreeMap<u64, Entry>,
    ready: BTreeSet<u64>,
    delayed: BTreeSet<(Instant, u64)>,
    leased: usize,
    next_place: u64,
    max_pending: usize,
    discarded: bool,
}

impl Tasks {
    fn pending(&self) -> usize {
        self.leased + self.delayed.len()
    }

    /// The place of the task to hand out now: a retry whose delay is over first (it holds
    /// a pending slot already), else the oldest ready one if a slot is free.
    fn due(&self, now: Instant) -> Option<u64> {
        if let Some(&(until, place)) = self.delayed.first()
            && until <= now
        {
            return Some(place);
        }
        if self.pending() < self.max_pending.max(1) {
            return self.ready.first().copied();
        }
        None
    }

    fn lease(&mut self, place: u64) -> Option<(String, Bytes, u64)> {
        let entry = self.entries.get_mut(&place)?;
        match entry.standing {
            Standing::Ready => {
                self.ready.remove(&place);
            }
            Standing::Delayed(until) => {
                self.delayed.remove(&(until, place));
            }
            Standing::Leased => return None,
        }
        entry.standing = Standing::Leased;
        entry.deliveries += 1;
        self.leased += 1;
        Some((entry.id.clone(), entry.payload.clone(), entry.deliveries))
    }

    fn settle(&mut self, place: u64, settle: Settle) {
        let Some(entry) = self.entries.get_mut(&place) else {
            return;
        };
        if entry.standing != Standing::Leased {
            return;
        }
        match settle {
            Settle::Progress => return,
            Settle::Ack => {
                self.entries.remove(&place);
            }
            Settle::Retry(delay) => {
                let until = Instant::now() + delay;
                entry.standing = Standing::Delayed(until);
                self.delayed.insert((until, place));
            }
        }
        self.leased = self.leased.saturating_sub(1);
    }
}

struct LaneState {
    tasks: Mutex<Tasks>,
    wake: Notify,
}

impl LaneState {
    fn lock(&self) -> Result<MutexGuard<'_, Tasks>, StoreError> {
        self.tasks.lock().map_err(|_| poisoned())
    }
}

#[derive(Default)]
struct Queue {
    lanes: HashMap<String, Arc<LaneState>>,
    seen: HashMap<String, Instant>,
    last_prune: Option<Instant>,
}

impl Queue {
    fn lane(&mut self, name: &str) -> Arc<LaneState> {
        self.lanes
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(LaneState {
                    tasks: Mutex::new(Tasks {
                        max_pending: 1,
                        ..Tasks::default()
                    }),
                    wake: Notify::new(),
                })
            })
            .clone()
    }

    /// Whether `id` was enqueued within the window (and remembers it now if not).
    fn is_repeat(&mut self, id: &str, now: Instant) -> bool {
        if self
            .last_prune
            .is_none_or(|last| now.duration_since(last) > Duration::from_secs(10))
        {
            self.seen
                .retain(|_, seen| now.duration_since(*seen) < DUPLICATE_WINDOW);
            self.last_prune = Some(now);
        }
        match self.seen.get(id) {
            Some(seen) if now.duration_since(*seen) < DUPLICATE_WINDOW => true,
            _ => {
                self.seen.insert(id.to_owned(), now);
                false
            }
        }
    }
}

/// The queue (shared by clones).
#[derive(Clone, Default)]
pub struct MemoryQueue {
    queue: Arc<Mutex<Queue>>,
}

/// A taker's handle on one lane.
pub struct MemoryLane {
    state: Arc<LaneState>,
}

/// A lease on one task; dropping it unsettled hands the task out again.
pub(crate) struct MemoryHold {
    state: Arc<LaneState>,
    place: u64,
    settled: bool,
}

impl MemoryHold {
    pub(crate) fn settle(mut self, settle: Settle) {
        self.apply(settle);
    }

    fn apply(&mut self, settle: Settle) {
        if settle != Settle::Progress {
            self.settled = true;
        }
        if let Ok(mut tasks) = self.state.lock() {
            tasks.settle(self.place, settle);
        }
        self.state.wake.notify_waiters();
        self.state.wake.notify_one();
    }
}

impl Drop for MemoryHold {
    fn drop(&mut self) {
        if !self.settled {
            self.apply(Settle::Retry(Duration::ZERO));
        }
    }
}

impl MemoryQueue {
    fn lock(&self) -> Result<MutexGuard<'_, Queue>, StoreError> {
        self.queue.lock().map_err(|_| poisoned())
    }

    pub(crate) fn enqueue(&self, tasks: Vec<Task>) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut queue = self.lock()?;
        for task in tasks {
            if queue.is_repeat(&task.id, now) {
                continue;
            }
            let lane = queue.lane(&task.lane);
            let mut entries = lane.lock()?;
            let place = entries.next_place;
            entries.next_place += 1;
            entries.entries.insert(
                place,
                Entry {
                    id: task.id,
                    payload: task.payload,
                    standing: Standing::Ready,
                    deliveries: 0,
                },
            );
            entries.ready.insert(place);
            drop(entries);
            lane.wake.notify_one();
        }
        Ok(())
    }

    pub(crate) fn take(&self, lane: &str, config: LaneConfig) -> Result<MemoryLane, StoreError> {
        let state = self.lock()?.lane(lane);
        state.lock()?.max_pending = config.max_pending;
        state.wake.notify_waiters();
        Ok(MemoryLane { state })
    }

    pub(crate) fn backlog(&self) -> Result<HashMap<String, u64>, StoreError> {
        let queue = self.lock()?;
        let mut backlog = HashMap::new();
        for (name, lane) in &queue.lanes {
            let count = lane.lock()?.entries.len() as u64;
            if count > 0 {
                backlog.insert(name.clone(), count);
            }
        }
        Ok(backlog)
    }

    pub(crate) fn discard(&self, lane: &str) -> Result<u64, StoreError> {
        let Some(state) = self.lock()?.lanes.remove(lane) else {
            return Ok(0);
        };
        let mut tasks = state.lock()?;
        let count = tasks.entries.len() as u64;
        *tasks = Tasks {
            discarded: true,
            ..Tasks::default()
        };
        drop(tasks);
        state.wake.notify_waiters();
        Ok(count)
    }
}

impl MemoryLane {
    /// The next task; `None` once the lane is discarded.
    pub(crate) async fn next(&mut self) -> Option<Lease> {
        loop {
            let wake = self.state.wake.notified();
            let wait = {
                let mut tasks = self.state.lock().ok()?;
                if tasks.discarded {
                    return None;
                }
                let now = Instant::now();
                if let Some(place) = tasks.due(now)
                    && let Some((id, payload, deliveries)) = tasks.lease(place)
                {
                    return Some(Lease {
                        id,
                        payload,
                        deliveries,
                        hold: Hold::Memory(MemoryHold {
                            state: self.state.clone(),
                            place,
                            settled: false,
                        }),
                    });
                }
                tasks
                    .delayed
                    .first()
                    .map(|(until, _)| until.saturating_duration_since(now))
            };
            match wait {
                Some(delay) => {
                    tokio::select! {
                        () = wake => {}
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                None => wake.await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(lane: &str, id: &str) -> Task {
        Task {
            lane: lane.to_owned(),
            id: id.to_owned(),
            payload: Bytes::from(id.to_owned()),
        }
    }

    const ONE: LaneConfig = LaneConfig {
        max_pending: 1,
        ack_wait: Duration::from_secs(30),
    };

    #[tokio::test]
    async fn a_lane_of_one_keeps_order_through_retries_and_drops_repeats() {
        let queue = MemoryQueue::default();
        queue
            .enqueue(vec![task("a", "1"), task("a", "2"), task("a", "1")])
            .unwrap();
        assert_eq!(queue.backlog().unwrap()["a"], 2);
        let mut lane = queue.take("a", ONE).unwrap();
        let first = lane.next().await.unwrap();
        assert_eq!((first.id.as_str(), first.deliveries), ("1", 1));
        first
            .settle(Settle::Retry(Duration::from_millis(20)))
            .await
            .unwrap();
        let again = lane.next().await.unwrap();
        assert_eq!((again.id.as_str(), again.deliveries), ("1", 2));
        drop(again);
        let after_drop = lane.next().await.unwrap();
        assert_eq!((after_drop.id.as_str(), after_drop.deliveries), ("1", 3));
        after_drop.settle(Settle::Ack).await.unwrap();
        let second = lane.next().await.unwrap();
        assert_eq!(second.id, "2");
        second.settle(Settle::Ack).await.unwrap();
        assert!(queue.backlog().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_wider_lane_hands_out_later_tasks_while_one_waits_to_be_retried() {
        let queue = MemoryQueue::default();
        queue.enqueue(vec![task("b", "1"), task("b", "2")]).unwrap();
        let mut lane = queue
            .take(
                "b",
                LaneConfig {
                    max_pending: 4,
                    ..ONE
                },
            )
            .unwrap();
        let first = lane.next().await.unwrap();
        first
            .settle(Settle::Retry(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(lane.next().await.unwrap().id, "2");
        assert_eq!(queue.discard("b").unwrap(), 2);
        assert!(lane.next().await.is_none());
    }
}
