//! The `watch-streams` scenario: many watchers spread over many streams, each stream fed at
//! its own rate (issue 18: 10,000 watchers on 100 streams × 10 notifications/s). Event types
//! `<prefix>000`… come from a schema `bench/run.sh` writes (`PART=streams`). Frames are read
//! with a byte search, not a JSON parse, so the bench's own CPU stays small beside the
//! gateway's on a shared machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::{Options, latency_summary, now_micros};

/// The event type of stream `index`.
fn event_type(options: &Options, index: usize) -> String {
    format!("{}{index:03}", options.streams_prefix)
}

/// The unsigned number after `"key":` in `text`.
fn number_after(text: &[u8], key: &[u8]) -> Option<u64> {
    let at = text.windows(key.len()).position(|window| window == key)? + key.len();
    let digits = text[at..].iter().take_while(|byte| byte.is_ascii_digit());
    let mut value = 0u64;
    let mut any = false;
    for digit in digits {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
        any = true;
    }
    any.then_some(value)
}

struct Tally {
    latencies_ms: Vec<f64>,
    /// Per watcher: notifications seen once, and repeats.
    counts: Vec<(usize, usize)>,
    /// Watchers the gateway cut off (an `error` frame, e.g. `slow_consumer`).
    cut_off: usize,
    /// Watchers whose stream ended or stalled before they saw everything.
    ended_early: usize,
}

/// A watcher that receives nothing (not even a heartbeat) for this long counts as ended.
const STALLED_AFTER: Duration = Duration::from_secs(45);

pub(crate) async fn watch_streams(
    options: &Options,
    client: &reqwest::Client,
    deadline: Instant,
) -> Result<Value, String> {
    let streams = options.stream_count.max(1);
    let per_stream = options.watch_notifications;
    let tally = Arc::new(Mutex::new(Tally {
        latencies_ms: Vec::new(),
        counts: Vec::new(),
        cut_off: 0,
        ended_early: 0,
    }));
    // The shared client's 60 s limit covers a whole response, body included: opening 10,000
    // watchers one after another takes 20 s or more on a loaded machine, so the first ones
    // were cut by the client before the last notification (counted as lost). Watchers get
    // a client of their own, bounded per read (`STALLED_AFTER`) and by the scenario's deadline.
    let watch_client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.watchers + 8)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let opening = Instant::now();
    let mut readers = Vec::with_capacity(options.watchers);
    for watcher in 0..options.watchers {
        let event_type = event_type(options, watcher % streams);
        let body = json!({"event_type": event_type, "identifier": {"name": "x"}});
        let response = watch_client
            .post(format!("{}/api/v1/watch", options.url))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("watcher {watcher}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("watcher {watcher}: HTTP {}", response.status()));
        }
        let tally = tally.clone();
        readers.push(tokio::spawn(async move {
            let mut stream = response.bytes_stream();
            let mut buffer = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let (mut repeats, mut mine, mut cut_off, mut ended) = (0, Vec::new(), false, false);
            while seen.len() < per_stream && Instant::now() < deadline {
                // Longer than the gateway's 30 s heartbeat: a watcher opened early hears
                // nothing else until the last one is open and publishing starts.
                let Ok(Some(Ok(chunk))) = tokio::time::timeout(STALLED_AFTER, stream.next()).await
                else {
                    ended = true;
                    break;
                };
                crate::each_frame(&mut buffer, &chunk, |frame| {
                    if frame.starts_with(b"event: error") {
                        cut_off = true;
                    }
                    if !frame.windows(5).any(|w| w == b"\nid: ") {
                        return;
                    }
                    let (Some(index), Some(sent)) = (
                        number_after(frame, b"\"index\":"),
                        number_after(frame, b"\"sent_us\":"),
                    ) else {
                        return;
                    };
                    if !seen.insert(index) {
                        repeats += 1;
                    }
                    mine.push(now_micros().saturating_sub(sent) as f64 / 1000.0);
                });
            }
            let mut tally = tally.lock().await;
            tally.cut_off += usize::from(cut_off);
            tally.ended_early += usize::from(ended && seen.len() < per_stream);
            tally.latencies_ms.extend(mine);
            tally.counts.push((seen.len(), repeats));
        }));
    }
    let opened_seconds = opening.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // One publisher per stream, each at `rate` per second.
    let url = format!("{}/api/v1/notification", options.url);
    let mut publishers = Vec::new();
    for stream in 0..streams {
        let (client, url, event_type) = (client.clone(), url.clone(), event_type(options, stream));
        let rate = options.rate.max(1);
        publishers.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            let mut errors = 0usize;
            for index in 0..per_stream {
                if Instant::now() > deadline {
                    break;
                }
                ticker.tick().await;
                // A subject per notification: streams keep one message per subject by
                // default, and a watcher is owed every notification, not the latest.
                let body = json!({"event_type": event_type, "identifier": {"name": "x", "seq": index.to_string()},
                    "payload": {"index": index, "sent_us": now_micros()}});
                match client.post(&url).json(&body).send().await {
                    Ok(response) if response.status() == 200 => {}
                    _ => errors += 1,
                }
            }
            errors
        }));
    }
    let mut publish_errors = 0;
    for publisher in publishers {
        publish_errors += publisher.await.unwrap_or(per_stream);
    }
    for reader in readers {
        let _ = reader.await;
    }
    let tally = tally.lock().await;
    let expected = per_stream * options.watchers;
    let delivered: usize = tally.counts.iter().map(|(seen, _)| seen).sum();
    let repeats: usize = tally.counts.iter().map(|(_, repeats)| repeats).sum();
    let mut result = json!({
        "scenario": "watch-streams",
        "streams": streams,
        "watchers": options.watchers,
        "rate_per_stream": options.rate,
        "notifications_per_stream": per_stream,
        "seconds_to_open_watchers": opened_seconds,
        "expected_deliveries": expected,
        "delivered": delivered,
        "missing": expected.saturating_sub(delivered),
        "duplicates": repeats,
        "publish_errors": publish_errors,
        "watchers_cut_off": tally.cut_off,
        "watchers_ended_early": tally.ended_early,
    });
    if let (Value::Object(map), Value::Object(summary)) =
        (&mut result, latency_summary(tally.latencies_ms.clone()))
    {
        map.extend(summary);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::number_after;

    #[test]
    fn reads_the_number_after_a_key() {
        let frame = br#"data: {"payload":{"index":42,"sent_us":1700000000123456}}"#;
        assert_eq!(number_after(frame, b"\"index\":"), Some(42));
        assert_eq!(
            number_after(frame, b"\"sent_us\":"),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(number_after(frame, b"\"missing\":"), None);
    }
}
