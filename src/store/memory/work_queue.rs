//! The memory engine's work queue (rules in [`crate::store::work_queue`]): per lane, tasks
//! in enqueue order, each ready, leased or delayed; a lease dropped without being settled
//! (its taker went away) makes its task ready again at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::store::error::{Failure, Lock, StoreError};
use crate::store::work_queue::{Backlog, DUPLICATE_WINDOW, Hold, LaneConfig, Lease, Settle, Task};

fn poisoned() -> StoreError {
    StoreError::Backend(Failure::Poisoned(Lock::MemoryStream))
}

struct Entry {
    id: String,
    key: String,
    payload: Bytes,
    /// Handed out this many times; a lease settles only the hand-out it came from.
    deliveries: u64,
    /// When a pending task (leased or delayed) is handed out again; `None` while ready.
    until: Option<Instant>,
}

/// One lane's tasks by their place (enqueue order). A task is ready, or pending: leased
/// (until its ack wait ends) or delayed (until its retry is due); both count toward the
/// pending limit, and a pending task whose time came is handed out again.
#[derive(Default)]
struct Tasks {
    entries: BTreeMap<u64, Entry>,
    ready: BTreeSet<u64>,
    pending: BTreeSet<(Instant, u64)>,
    next_place: u64,
    max_pending: usize,
    ack_wait: Duration,
    discarded: bool,
}

impl Tasks {
    /// The place of the task to hand out now: a pending one whose time came first (it holds
    /// a pending slot already), else the oldest ready one if a slot is free.
    fn due(&self, now: Instant) -> Option<u64> {
        if let Some(&(until, place)) = self.pending.first()
            && until <= now
        {
            return Some(place);
        }
        if self.pending.len() < self.max_pending.max(1) {
            return self.ready.first().copied();
        }
        None
    }

    fn hold_until(&mut self, place: u64, until: Instant) {
        if let Some(entry) = self.entries.get_mut(&place) {
            if let Some(previous) = entry.until.replace(until) {
                self.pending.remove(&(previous, place));
            } else {
                self.ready.remove(&place);
            }
            self.pending.insert((until, place));
        }
    }

    fn lease(&mut self, place: u64, now: Instant) -> Option<(String, String, Bytes, u64)> {
        self.hold_until(place, now + self.ack_wait);
        let entry = self.entries.get_mut(&place)?;
        entry.deliveries += 1;
        Some((
            entry.id.clone(),
            entry.key.clone(),
            entry.payload.clone(),
            entry.deliveries,
        ))
    }

    fn push(&mut self, id: String, key: String, payload: Bytes) {
        let place = self.next_place;
        self.next_place += 1;
        self.entries.insert(
            place,
            Entry {
                id,
                key,
                payload,
                deliveries: 0,
                until: None,
            },
        );
        self.ready.insert(place);
    }

    /// Takes out the tasks of `key` (one leased right now comes along: at least once).
    fn take_key(&mut self, key: &str) -> Vec<Entry> {
        let places: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.key == key)
            .map(|(place, _)| *place)
            .collect();
        let mut taken = Vec::new();
        for place in places {
            if let Some(entry) = self.entries.remove(&place) {
                self.ready.remove(&place);
                if let Some(until) = entry.until {
                    self.pending.remove(&(until, place));
                }
                taken.push(entry);
            }
        }
        taken
    }

    fn settle(&mut self, place: u64, generation: u64, settle: Settle) {
        let Some(entry) = self.entries.get(&place) else {
            return;
        };
        let Some(until) = entry.until else { return };
        if entry.deliveries != generation {
            // Taken over by another taker after the ack wait: not this lease's to settle.
            return;
        }
        let now = Instant::now();
        match settle {
            Settle::Ack => {
                self.pending.remove(&(until, place));
                self.entries.remove(&place);
            }
            Settle::Retry(delay) => self.hold_until(place, now + delay),
            Settle::Progress => self.hold_until(place, now + self.ack_wait),
        }
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
    generation: u64,
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
            tasks.settle(self.place, self.generation, settle);
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
            lane.lock()?.push(task.id, task.key, task.payload);
            lane.wake.notify_one();
        }
        Ok(())
    }

    pub(crate) fn take(&self, lane: &str, config: LaneConfig) -> Result<MemoryLane, StoreError> {
        let state = self.lock()?.lane(lane);
        {
            let mut tasks = state.lock()?;
            tasks.max_pending = config.max_pending;
            tasks.ack_wait = config.ack_wait;
        }
        state.wake.notify_waiters();
        Ok(MemoryLane { state })
    }

    pub(crate) fn backlog(&self) -> Result<Backlog, StoreError> {
        let queue = self.lock()?;
        let mut backlog = HashMap::new();
        for (name, lane) in &queue.lanes {
            for entry in lane.lock()?.entries.values() {
                *backlog
                    .entry((name.clone(), entry.key.clone()))
                    .or_insert(0) += 1;
            }
        }
        Ok(Backlog(backlog))
    }

    pub(crate) fn discard(&self, key: &str, own_lanes: &[&str]) -> Result<u64, StoreError> {
        let mut queue = self.lock()?;
        let mut count = 0;
        for name in own_lanes {
            if let Some(state) = queue.lanes.remove(*name) {
                let mut tasks = state.lock()?;
                count += tasks
                    .entries
                    .values()
                    .filter(|entry| entry.key == key)
                    .count() as u64;
                *tasks = Tasks {
                    discarded: true,
                    ..Tasks::default()
                };
                drop(tasks);
                state.wake.notify_waiters();
            }
        }
        for state in queue.lanes.values() {
            let mut tasks = state.lock()?;
            let places: Vec<u64> = tasks
                .entries
                .iter()
                .filter(|(_, entry)| entry.key == key)
                .map(|(place, _)| *place)
                .collect();
            for place in places {
                if let Some(entry) = tasks.entries.remove(&place) {
                    tasks.ready.remove(&place);
                    if let Some(until) = entry.until {
                        tasks.pending.remove(&(until, place));
                    }
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    pub(crate) fn relocate(&self, from: &str, key: &str, to: &str) -> Result<u64, StoreError> {
        let mut queue = self.lock()?;
        let Some(source) = queue.lanes.get(from).cloned() else {
            return Ok(0);
        };
        let moved = source.lock()?.take_key(key);
        let count = moved.len() as u64;
        let target = queue.lane(to);
        {
            let mut tasks = target.lock()?;
            for entry in moved {
                tasks.push(entry.id, entry.key, entry.payload);
            }
        }
        target.wake.notify_one();
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
                    && let Some((id, key, payload, deliveries)) = tasks.lease(place, now)
                {
                    return Some(Lease {
                        id,
                        key,
                        payload,
                        deliveries,
                        hold: Hold::Memory(MemoryHold {
                            state: self.state.clone(),
                            place,
                            generation: deliveries,
                            settled: false,
                        }),
                    });
                }
                tasks
                    .pending
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
            key: "k".to_owned(),
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
        assert_eq!(queue.backlog().unwrap().of_key("k"), 2);
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
        assert_eq!(queue.backlog().unwrap().total(), 0);
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
        assert_eq!(queue.discard("k", &["b"]).unwrap(), 2);
        assert!(lane.next().await.is_none());
    }
}
