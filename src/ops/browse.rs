//! Browsing: cursor pages over one stream (notifications and the audit trail), `limit`
//! items at a time in either direction, opaque `next`/`prev` cursors that are `null` at
//! either end. Pages are computed from ordered reads, so a page never holds a notification
//! twice and paging on while notifications are published visits each one exactly once.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::domain::{Sequence, StreamKey};
use crate::store::{ReadRequest, SharedMessage, Start, Store, StoreError, StoredMessage};

/// Page size bounds (`limit`).
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// Where a page starts: strictly after or strictly before a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    After(u64),
    Before(u64),
}

impl Cursor {
    pub fn encode(self) -> String {
        match self {
            Cursor::After(sequence) => format!("a{sequence:x}"),
            Cursor::Before(sequence) => format!("b{sequence:x}"),
        }
    }

    pub fn decode(raw: &str) -> Option<Cursor> {
        let (kind, hex) = raw.split_at_checked(1)?;
        let sequence = u64::from_str_radix(hex, 16).ok()?;
        match kind {
            "a" => Some(Cursor::After(sequence)),
            "b" => Some(Cursor::Before(sequence)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PageRequest {
    pub direction: Direction,
    pub cursor: Option<Cursor>,
    pub limit: usize,
    pub from_time: Option<DateTime<Utc>>,
    pub to_time: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub struct Page {
    /// In display order.
    pub items: Vec<SharedMessage>,
    pub next: Option<String>,
    pub prev: Option<String>,
}

struct Scan<'a, F> {
    store: &'a Store,
    stream: &'a StreamKey,
    filter: &'a str,
    admits: F,
    from_time: Option<DateTime<Utc>>,
    to_time: Option<DateTime<Utc>>,
}

impl<F: Fn(&StoredMessage) -> bool> Scan<'_, F> {
    fn keeps(&self, message: &StoredMessage) -> bool {
        self.from_time.is_none_or(|from| message.time >= from)
            && self.to_time.is_none_or(|to| message.time <= to)
            && (self.admits)(message)
    }

    /// Admitted messages with sequences in `[low, high]`, ascending: the oldest `count`
    /// (`Keep::Oldest`) or the newest `count` (`Keep::Newest`). Never more than `count`
    /// are held, however many the window matches.
    async fn window(
        &self,
        low: u64,
        high: u64,
        count: usize,
        keep: Keep,
    ) -> Result<VecDeque<SharedMessage>, StoreError> {
        let mut found = VecDeque::with_capacity(count.min(MAX_LIMIT + 1));
        let Some(start) = Sequence::new(low) else {
            return Ok(found);
        };
        if high < low || count == 0 {
            return Ok(found);
        }
        let request = ReadRequest {
            filter: self.filter.to_owned(),
            start: Start::Sequence(start),
            last_sequence: high,
            until: self.to_time,
            limit: None,
        };
        let mut read = self.store.read(self.stream, request).await?;
        while let Some(message) = read.next().await {
            let message = message?;
            if !self.keeps(&message) {
                continue;
            }
            if found.len() == count {
                match keep {
                    Keep::Oldest => break,
                    Keep::Newest => {
                        found.pop_front();
                    }
                }
            }
            found.push_back(message);
        }
        Ok(found)
    }

    /// The first `count` admitted messages after `after`, ascending: a first window of the
    /// size a dense page needs (cheap for the store to read, see [`first_width`]), then the
    /// rest of the stream in one read that stops at the page's end.
    async fn ascending_after(
        &self,
        after: u64,
        boundary: u64,
        count: usize,
    ) -> Result<Vec<SharedMessage>, StoreError> {
        let first_high = after.saturating_add(first_width(count)).min(boundary);
        let mut found: Vec<SharedMessage> = self
            .window(after + 1, first_high, count, Keep::Oldest)
            .await?
            .into();
        if found.len() < count && first_high < boundary {
            let rest = self
                .window(first_high + 1, boundary, count - found.len(), Keep::Oldest)
                .await?;
            found.extend(rest);
        }
        Ok(found)
    }

    /// The last `count` admitted messages before `before`, descending; reads windows that
    /// double in size going back, so sparse matches cost few reads, and keeps only what
    /// the page still needs of each, so memory stays within `count` messages.
    async fn descending_before(
        &self,
        before: u64,
        count: usize,
    ) -> Result<Vec<SharedMessage>, StoreError> {
        let mut found = Vec::with_capacity(count.min(MAX_LIMIT + 1));
        let mut high = before.saturating_sub(1);
        let mut width = first_width(count);
        while high >= 1 && found.len() < count {
            let low = high.saturating_sub(width - 1).max(1);
            let window = self
                .window(low, high, count - found.len(), Keep::Newest)
                .await?;
            found.extend(window.into_iter().rev());
            if low == 1 {
                break;
            }
            if let (Some(from), Some(oldest)) = (self.from_time, found.last())
                && oldest.time < from
            {
                break;
            }
            high = low - 1;
            width = width.saturating_mul(2);
        }
        Ok(found)
    }
}

/// The first window of a page of `count`: four times the page (a dense filter fills it),
/// at least 256. Small windows are cheap on JetStream, which filters short reads with a broad
/// filter in the gateway instead of having the server count it over the stream's subjects.
fn first_width(count: usize) -> u64 {
    (count as u64 * 4).max(256)
}

/// Which end of a window a page keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Oldest,
    Newest,
}

/// One page of the messages of `stream` matching `filter` and `admits`.
pub async fn page(
    store: &Store,
    stream: &StreamKey,
    filter: &str,
    admits: impl Fn(&StoredMessage) -> bool,
    request: &PageRequest,
) -> Result<Page, StoreError> {
    let boundary = store.last_sequence(stream).await?;
    let scan = Scan {
        store,
        stream,
        filter,
        admits,
        from_time: request.from_time,
        to_time: request.to_time,
    };
    let wanted = request.limit + 1;
    let cursor = request.cursor.unwrap_or(match request.direction {
        Direction::Desc => Cursor::Before(boundary + 1),
        Direction::Asc => Cursor::After(0),
    });
    let (mut fetched, ascending) = match cursor {
        Cursor::After(after) => (scan.ascending_after(after, boundary, wanted).await?, true),
        Cursor::Before(before) => (scan.descending_before(before, wanted).await?, false),
    };
    let more = fetched.len() > request.limit;
    fetched.truncate(request.limit);
    let came_from_somewhere = request.cursor.is_some();
    // Links in fetch direction: "onward" continues the fetch, "back" returns where we came from.
    let (onward, back) = match (fetched.first(), fetched.last()) {
        (Some(first), Some(last)) => {
            let (first, last) = (first.sequence.get(), last.sequence.get());
            if ascending {
                (
                    more.then_some(Cursor::After(last)),
                    came_from_somewhere.then_some(Cursor::Before(first)),
                )
            } else {
                (
                    more.then_some(Cursor::Before(last)),
                    came_from_somewhere.then_some(Cursor::After(first)),
                )
            }
        }
        _ => (None, None),
    };
    let display_ascending = request.direction == Direction::Asc;
    if display_ascending != ascending {
        fetched.reverse();
    }
    // `next` moves in the display direction, `prev` against it.
    let (next, prev) = if display_ascending == ascending {
        (onward, back)
    } else {
        (back, onward)
    };
    Ok(Page {
        items: fetched,
        next: next.map(Cursor::encode),
        prev: prev.map(Cursor::encode),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, Weak};

    use super::*;
    use crate::metrics::Metrics;
    use crate::schema::Catalog;
    use crate::settings::StoreSettings;
    use crate::store::Publication;
    use crate::subject::Subject;

    /// A memory store with `count` notifications in the `mars` stream.
    async fn store_with(count: u64) -> (Store, StreamKey) {
        let catalog = Catalog::load(&[]).unwrap();
        let metrics = Arc::new(Metrics::new(&catalog.event_type_names()));
        let mut settings = StoreSettings::default();
        settings.memory.max_messages_per_stream = 100_000;
        let specs = crate::app::stream_specs(&catalog, &crate::settings::Settings::default());
        let store = Store::open(&settings, specs, metrics).await.unwrap();
        let stream = catalog.event_type("mars").unwrap().stream.clone();
        for step in 0..count {
            let tokens = [
                "od",
                "1",
                "g",
                "20250706",
                "1200",
                "enfo",
                &step.to_string(),
            ];
            let publication = Publication {
                stream: stream.clone(),
                subject: Subject::build(stream.base(), tokens).unwrap(),
                headers: Vec::new(),
                payload: bytes::Bytes::from_static(b"{}"),
                idempotency_key: None,
            };
            store.publish(publication).await.unwrap();
        }
        (store, stream)
    }

    #[tokio::test]
    async fn a_page_holds_no_more_messages_than_it_returns_whatever_the_window() {
        let (store, stream) = store_with(5000).await;
        // Every admitted message is watched: held by someone besides the store means held
        // by the page being computed.
        let seen: Mutex<Vec<Weak<StoredMessage>>> = Mutex::new(Vec::new());
        let most_held = Mutex::new(0usize);
        let admits = |message: &StoredMessage| {
            let mut seen = seen.lock().unwrap();
            let held = seen.iter().filter(|weak| weak.strong_count() > 1).count();
            let mut most = most_held.lock().unwrap();
            *most = (*most).max(held);
            let shared = store_lookup(&store, &stream, message.sequence);
            seen.push(Arc::downgrade(&shared));
            // Every third notification matches: a sparse-ish filter over wide windows.
            message.sequence.get().is_multiple_of(3)
        };
        for direction in [Direction::Desc, Direction::Asc] {
            let request = PageRequest {
                direction,
                cursor: None,
                limit: 10,
                from_time: None,
                to_time: None,
            };
            let filter = format!("{}.>", stream.base());
            let page = page(&store, &stream, &filter, &admits, &request)
                .await
                .unwrap();
            assert_eq!(page.items.len(), 10);
        }
        let most = *most_held.lock().unwrap();
        assert!(most <= 11, "{most} messages held for a page of 10");
    }

    #[tokio::test]
    async fn sparse_matches_are_found_past_the_first_window_both_ways() {
        let (store, stream) = store_with(3000).await;
        let admits = |message: &StoredMessage| message.sequence.get().is_multiple_of(700);
        let filter = format!("{}.>", stream.base());
        let sequences = |page: &Page| -> Vec<u64> {
            page.items.iter().map(|item| item.sequence.get()).collect()
        };
        let mut request = PageRequest {
            direction: Direction::Asc,
            cursor: None,
            limit: 3,
            from_time: None,
            to_time: None,
        };
        let first = page(&store, &stream, &filter, admits, &request)
            .await
            .unwrap();
        assert_eq!(sequences(&first), [700, 1400, 2100]);
        request.cursor = first.next.as_deref().and_then(Cursor::decode);
        let second = page(&store, &stream, &filter, admits, &request)
            .await
            .unwrap();
        assert_eq!(sequences(&second), [2800]);
        assert_eq!(second.next, None);
        request.direction = Direction::Desc;
        request.cursor = None;
        let newest = page(&store, &stream, &filter, admits, &request)
            .await
            .unwrap();
        assert_eq!(sequences(&newest), [2800, 2100, 1400]);
    }

    fn store_lookup(store: &Store, stream: &StreamKey, sequence: Sequence) -> SharedMessage {
        let read = store.get(stream, sequence);
        futures::executor::block_on(read).unwrap().unwrap()
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        for cursor in [
            Cursor::After(0),
            Cursor::Before(12345),
            Cursor::After(u64::MAX),
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
        for raw in ["", "x12", "a", "bzz", "a-1"] {
            assert_eq!(Cursor::decode(raw), None, "{raw}");
        }
    }
}
