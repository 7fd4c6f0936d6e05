//! The `history` scenario: does a cost stay flat as a stream's history grows? The stream is
//! filled to each size in turn (10k, 100k, 1M by default), and at each size the scenario
//! measures a full replay (rate, gateway memory), a browse page at the newest and the
//! oldest end and with filters matching 1 in 1,000 (subject-expressible and constraint), and
//! purges by identifier of both kinds (time, gateway memory). One JSON line per size.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::{Options, open_replay, rss_kib};

/// Notifications per `stream` value: the filters below pick one step of each block.
const BLOCK: usize = 1000;
/// Browse calls per variant; the median is reported.
const BROWSE_CALLS: usize = 5;

fn identifier(run: &str, index: usize) -> Value {
    // A subject of its own per notification (the stream keeps one message per subject).
    json!({"class": "od", "expver": "1", "domain": "g", "date": "2025-07-06", "time": "12",
           "stream": format!("h{run}x{}", index / BLOCK), "step": index % BLOCK})
}

/// Samples the gateway's resident memory every 50 ms until dropped; `peak()` is the highest.
struct MemorySampler {
    peak: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
}

impl MemorySampler {
    fn start(pid: Option<u32>) -> Self {
        let peak = Arc::new(AtomicU64::new(pid.and_then(rss_kib).unwrap_or(0)));
        let running = Arc::new(AtomicBool::new(true));
        if let Some(pid) = pid {
            let (peak, running) = (peak.clone(), running.clone());
            tokio::spawn(async move {
                while running.load(Ordering::Relaxed) {
                    if let Some(now) = rss_kib(pid) {
                        peak.fetch_max(now, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
        MemorySampler { peak, running }
    }

    fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for MemorySampler {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
    }
}

/// Publishes notifications `from..to` of the run at `concurrency`; returns how many were
/// stored and the lowest sequence among them.
async fn fill(
    options: &Options,
    client: &reqwest::Client,
    run: &str,
    range: std::ops::Range<usize>,
    deadline: Instant,
) -> Result<(usize, Option<u64>), String> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let stored = Arc::new(AtomicUsize::new(0));
    let first = Arc::new(AtomicU64::new(u64::MAX));
    let mut workers = Vec::new();
    for _ in 0..options.concurrency {
        let (client, next, stored, first) =
            (client.clone(), next.clone(), stored.clone(), first.clone());
        let url = format!("{}/api/v1/notification", options.url);
        let (run, end, event_type) = (run.to_owned(), range.end, options.event_type.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                if index >= end || Instant::now() > deadline {
                    return;
                }
                let body = json!({"event_type": event_type, "identifier": identifier(&run, index), "payload": {"index": index}});
                let Ok(response) = client.post(&url).json(&body).send().await else {
                    continue;
                };
                if response.status() != 200 {
                    continue;
                }
                if let Ok(answer) = response.json::<Value>().await
                    && let Some(sequence) = answer["id"]
                        .as_str()
                        .and_then(|id| id.rsplit('@').next()?.parse::<u64>().ok())
                {
                    first.fetch_min(sequence, Ordering::Relaxed);
                    stored.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for worker in workers {
        worker.await.map_err(|e| e.to_string())?;
    }
    let first = first.load(Ordering::Relaxed);
    Ok((
        stored.load(Ordering::Relaxed),
        (first != u64::MAX).then_some(first),
    ))
}

/// Replays the run from `from`, counting notification frames; rate and memory.
async fn replay(
    options: &Options,
    client: &reqwest::Client,
    from: u64,
    deadline: Instant,
) -> Result<Value, String> {
    let memory = MemorySampler::start(options.pid);
    let before = options.pid.and_then(rss_kib);
    let started = Instant::now();
    let mut stream = open_replay(options, client, json!({"class": "od"}), from).await?;
    const ID_LINE: &[u8] = b"\nid: ";
    const CLOSING: &[u8] = b"event: connection-closing";
    let mut count = 0usize;
    // The last bytes of the previous chunk, fewer than a pattern: a match found in `window`
    // always ends in the new chunk, so none is counted twice.
    let (mut ids_tail, mut closing_tail) = (Vec::new(), Vec::new());
    let mut closed = false;
    while !closed && Instant::now() < deadline {
        let Ok(Some(Ok(chunk))) =
            tokio::time::timeout(Duration::from_secs(30), stream.next()).await
        else {
            break;
        };
        ids_tail.extend_from_slice(&chunk);
        count += ids_tail
            .windows(ID_LINE.len())
            .filter(|window| *window == ID_LINE)
            .count();
        let keep = ids_tail.len().min(ID_LINE.len() - 1);
        ids_tail.drain(..ids_tail.len() - keep);
        closing_tail.extend_from_slice(&chunk);
        closed = closing_tail
            .windows(CLOSING.len())
            .any(|window| window == CLOSING);
        let keep = closing_tail.len().min(CLOSING.len() - 1);
        closing_tail.drain(..closing_tail.len() - keep);
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "delivered": count,
        "notifications_per_second": count as f64 / seconds,
        "seconds": seconds,
        "rss_before_kib": before,
        "rss_peak_kib": memory.peak(),
    }))
}

/// The median time of `BROWSE_CALLS` page requests, and the page size.
async fn browse(options: &Options, client: &reqwest::Client, query: &str) -> Value {
    let url = format!(
        "{}/api/v1/notifications/{}?{query}",
        options.url, options.event_type
    );
    let mut times = Vec::new();
    let mut models = None;
    let mut status = None;
    for _ in 0..BROWSE_CALLS {
        let started = Instant::now();
        let Ok(response) = client.get(&url).send().await else {
            continue;
        };
        status = Some(response.status().as_u16());
        let page: Value = response.json().await.unwrap_or(Value::Null);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        models = page["models"].as_array().map(Vec::len);
    }
    times.sort_by(f64::total_cmp);
    json!({"query": query, "status": status, "models": models, "median_ms": times.get(times.len() / 2)})
}

/// A purge by identifier: time, removed count, gateway memory.
async fn purge(options: &Options, client: &reqwest::Client, identifier: Value) -> Value {
    let memory = MemorySampler::start(options.pid);
    let before = options.pid.and_then(rss_kib);
    let started = Instant::now();
    let outcome = client
        .delete(format!(
            "{}/api/v1/admin/notifications/{}",
            options.url, options.event_type
        ))
        .json(&json!({ "identifier": identifier }))
        .send()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let (status, answer) = match outcome {
        Ok(response) => (
            Some(response.status().as_u16()),
            response.json::<Value>().await.unwrap_or(Value::Null),
        ),
        Err(_) => (None, Value::Null),
    };
    json!({
        "identifier": identifier,
        "status": status,
        "removed": answer["count"],
        "seconds": seconds,
        "rss_before_kib": before,
        "rss_peak_kib": memory.peak(),
    })
}

/// The scenario: one JSON line per size.
pub(crate) async fn history(
    options: &Options,
    client: &reqwest::Client,
    run: &str,
    deadline: Instant,
) -> Result<(), String> {
    let mut filled = 0usize;
    let mut first_sequence = None;
    let mut removed = 0u64;
    for &size in &options.history_sizes {
        if size <= filled {
            continue;
        }
        let started = Instant::now();
        let (stored, first) = fill(options, client, run, filled..size, deadline).await?;
        let fill_seconds = started.elapsed().as_secs_f64();
        first_sequence = first_sequence.or(first);
        filled = size;
        let Some(from) = first_sequence else {
            return Err("nothing was stored".to_owned());
        };
        // Exact when the stream holds only this run (bench/run.sh runs it on its own).
        let expected = size as u64 - removed;
        let replayed = replay(options, client, from, deadline).await?;
        let browsing = json!({
            "newest": browse(options, client, "class=od&limit=100").await,
            "oldest": browse(options, client, "class=od&limit=100&dir=asc").await,
            "subject_filter_1_in_1000": browse(options, client, "class=od&step=7&limit=100").await,
            "constraint_filter_1_in_1000": browse(options, client, "class=od&step[between]=998,998&limit=100").await,
        });
        // Each purge removes one step of every block: 1 in 1,000 of the run so far.
        let purges = json!({
            "subject_filter": purge(options, client, json!({"class": "od", "step": 5})).await,
            "constraint_filter": purge(options, client, json!({"class": "od", "step": {"between": [996, 996]}})).await,
        });
        for kind in ["subject_filter", "constraint_filter"] {
            removed += purges[kind]["removed"].as_u64().unwrap_or(0);
        }
        println!(
            "{}",
            json!({
                "scenario": "history",
                "size": size,
                "stored_this_step": stored,
                "fill_per_second": stored as f64 / fill_seconds,
                "expected_in_replay": expected,
                "replay": replayed,
                "browse": browsing,
                "purge": purges,
            })
        );
    }
    Ok(())
}
