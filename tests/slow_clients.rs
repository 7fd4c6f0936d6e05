//! Slow clients, in a test binary of their own: whether a watcher keeps up depends on the
//! CPU the gateway gets, so this does not share the machine with the parallel API suite.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

#[path = "support/mod.rs"]
mod support;

#[path = "api/helpers.rs"]
mod helpers;

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use tidings::settings::StoreKind;

use helpers::{TestApp, mars};

const SECOND: Duration = Duration::from_secs(1);

/// How often `needle` occurs in `haystack`.
fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|window| *window == needle)
        .count()
}

async fn a_stalled_watcher_is_cut_off_while_a_healthy_one_keeps_receiving(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |settings| {
        settings.sse.watcher_buffer_bytes = 4 * 1024 * 1024;
        settings.store.jetstream.max_bytes = None;
    })
    .await;
    let body = json!({"event_type":"mars","identifier":{"class":"od"}});
    let mut stalled = app.stream("/api/v1/watch", body.clone(), None).await;
    stalled.next(5 * SECOND).await.unwrap();
    // The healthy client reads on its own task and only counts ids: a client that keeps up.
    let healthy = app
        .client
        .post(app.url("/api/v1/watch"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let big = "x".repeat(100 * 1024);
    // 30 MB in all: more than the socket buffers, the frame queue and the 4 MiB budget.
    let total = 300;
    let reader = tokio::spawn(async move {
        let mut chunks = healthy.bytes_stream();
        let (mut ids, mut errors, mut tail) = (0, 0, Vec::new());
        while ids < total {
            let Ok(Some(Ok(chunk))) = tokio::time::timeout(20 * SECOND, chunks.next()).await else {
                break;
            };
            // Only the new bytes (and the one before, for a "\n\n" across chunks) are
            // searched, and each frame is counted once: a reader this cheap keeps up even
            // in a debug build on a busy machine.
            let searched = tail.len().saturating_sub(1);
            tail.extend_from_slice(&chunk);
            // Count complete frames only; a partial one waits for the next chunk.
            let Some(end) = tail[searched..]
                .windows(2)
                .rposition(|pair| pair == b"\n\n")
                .map(|at| searched + at)
            else {
                continue;
            };
            let complete = &tail[..end + 2];
            ids += occurrences(complete, b"\nid: mars@");
            errors += occurrences(complete, b"event: error");
            tail.drain(..end + 2);
        }
        (ids, errors)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    for step in 1..=total as u64 {
        app.notify("mars", mars(step), json!({"blob": big})).await;
        // About 10 MB/s: a rate a healthy client keeps up with, even in a debug build.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (ids, errors) = reader.await.unwrap();
    assert_eq!(
        (ids, errors),
        (total, 0),
        "the healthy watcher got everything"
    );
    let frames = stalled
        .until(|f| f.event == "connection-closing", 20 * SECOND)
        .await;
    let error = frames
        .iter()
        .find(|f| f.event == "error")
        .expect("an error frame for the stalled watcher");
    assert_eq!(error.data["error"], "slow_consumer");
    let delivered: Vec<String> = frames.iter().filter_map(|f| f.id.clone()).collect();
    let last = delivered
        .last()
        .cloned()
        .unwrap_or_else(|| "none".to_owned());
    let message = error.data["message"].as_str().unwrap();
    assert!(
        delivered.len() < total,
        "the stalled watcher was not cut off"
    );
    assert!(
        message.contains(&format!("last id sent: {last}")),
        "{message} vs {last}"
    );
    assert_eq!(frames.last().unwrap().event, "connection-closing");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store() {
    a_stalled_watcher_is_cut_off_while_a_healthy_one_keeps_receiving(StoreKind::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_store() {
    a_stalled_watcher_is_cut_off_while_a_healthy_one_keeps_receiving(StoreKind::Jetstream).await;
}
