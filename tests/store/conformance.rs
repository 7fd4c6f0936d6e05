//! Conformance cases, written once against `&Backend` and run for both engines.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tidings::domain::{Sequence, StreamKey};
use tidings::store::{
    DEFAULT_SUBSCRIBER_BUDGET, DeleteOutcome, Publication, ReadRequest, SPATIAL_GEOMETRY_HEADER,
    Start, StoreError,
};
use tidings::subject::Subject;

use crate::backends::Backend;

fn publication(stream: &StreamKey, region: &str, step: u64) -> Publication {
    Publication {
        stream: stream.clone(),
        subject: Subject::build(stream.base(), [region, &step.to_string()]).unwrap(),
        headers: Vec::new(),
        payload: Bytes::from(format!("{{\"step\":{step}}}")),
        idempotency_key: None,
    }
}

async fn publish(backend: &Backend, stream: &StreamKey, region: &str, step: u64) -> u64 {
    backend
        .store
        .publish(publication(stream, region, step))
        .await
        .unwrap()
        .sequence
        .get()
}

fn seq(value: u64) -> Sequence {
    Sequence::new(value).unwrap()
}

fn everything(stream: &StreamKey, last_sequence: u64) -> ReadRequest {
    ReadRequest {
        filter: format!("{}.>", stream.base()),
        start: Start::Beginning,
        last_sequence,
        until: None,
        limit: None,
    }
}

async fn sequences(backend: &Backend, stream: &StreamKey, request: ReadRequest) -> Vec<u64> {
    let mut read = backend.store.read(stream, request).await.unwrap();
    let mut found = Vec::new();
    while let Some(message) = read.next().await {
        found.push(message.unwrap().sequence.get());
    }
    found
}

pub async fn reads_are_ordered_and_stop_at_the_boundary(backend: &Backend) {
    let alpha = backend.alpha();
    for step in 1..=5 {
        assert_eq!(publish(backend, &alpha, "eu", step).await, step);
    }
    let boundary = backend.store.last_sequence(&alpha).await.unwrap();
    assert_eq!(boundary, 5);
    publish(backend, &alpha, "eu", 6).await;
    assert_eq!(
        sequences(backend, &alpha, everything(&alpha, boundary)).await,
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        sequences(backend, &alpha, everything(&alpha, 6)).await,
        [1, 2, 3, 4, 5, 6]
    );
    let empty = backend.beta();
    assert!(
        sequences(backend, &empty, everything(&empty, 0))
            .await
            .is_empty()
    );
    assert_eq!(backend.store.last_sequence(&empty).await.unwrap(), 0);
}

pub async fn reads_start_by_sequence_and_by_time(backend: &Backend) {
    let alpha = backend.alpha();
    for step in 1..=3 {
        publish(backend, &alpha, "eu", step).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let middle = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for step in 4..=5 {
        publish(backend, &alpha, "eu", step).await;
    }
    let mut request = everything(&alpha, 5);
    request.start = Start::Sequence(seq(3));
    assert_eq!(sequences(backend, &alpha, request.clone()).await, [3, 4, 5]);
    request.start = Start::Sequence(seq(6));
    assert!(sequences(backend, &alpha, request.clone()).await.is_empty());
    request.start = Start::Time(middle);
    assert_eq!(sequences(backend, &alpha, request.clone()).await, [4, 5]);
    request.start = Start::Time(middle + chrono::Duration::hours(1));
    assert!(sequences(backend, &alpha, request).await.is_empty());
}

pub async fn reads_end_by_sequence_time_or_limit(backend: &Backend) {
    let alpha = backend.alpha();
    for step in 1..=3 {
        publish(backend, &alpha, "eu", step).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let middle = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for step in 4..=6 {
        publish(backend, &alpha, "eu", step).await;
    }
    assert_eq!(
        sequences(backend, &alpha, everything(&alpha, 2)).await,
        [1, 2]
    );
    let mut request = everything(&alpha, 6);
    request.until = Some(middle);
    assert_eq!(sequences(backend, &alpha, request).await, [1, 2, 3]);
    let mut request = everything(&alpha, 6);
    request.limit = Some(4);
    assert_eq!(sequences(backend, &alpha, request).await, [1, 2, 3, 4]);
    // The same from a sequence (on JetStream a short read from a sequence goes by sequence).
    let from_two = |mut request: ReadRequest| {
        request.start = Start::Sequence(seq(2));
        request
    };
    let mut request = from_two(everything(&alpha, 6));
    request.until = Some(middle);
    assert_eq!(sequences(backend, &alpha, request).await, [2, 3]);
    let mut request = from_two(everything(&alpha, 6));
    request.limit = Some(2);
    assert_eq!(sequences(backend, &alpha, request).await, [2, 3]);
}

pub async fn subject_filters_with_wildcards_select_messages(backend: &Backend) {
    let alpha = backend.alpha();
    publish(backend, &alpha, "eu", 1).await;
    publish(backend, &alpha, "us", 1).await;
    publish(backend, &alpha, "eu", 2).await;
    publish(backend, &alpha, "a.b", 2).await;
    let filtered = |filter: &str| ReadRequest {
        filter: filter.to_owned(),
        ..everything(&alpha, 4)
    };
    assert_eq!(
        sequences(backend, &alpha, filtered("alpha.eu.*")).await,
        [1, 3]
    );
    assert_eq!(
        sequences(backend, &alpha, filtered("alpha.*.2")).await,
        [3, 4]
    );
    assert_eq!(
        sequences(backend, &alpha, filtered("alpha.us.1")).await,
        [2]
    );
    assert_eq!(
        sequences(backend, &alpha, filtered("alpha.a%2Eb.*")).await,
        [4]
    );
    assert!(
        sequences(backend, &alpha, filtered("alpha.nowhere.*"))
            .await
            .is_empty()
    );
}

/// Short reads and long ones select the same: the JetStream engine reads up to 512
/// sequences one get per sequence, filters reads of up to 1,024 sequences itself (a filtered
/// consumer costs the server a count over every subject) and leaves longer ones to the
/// server.
pub async fn filtered_reads_agree_whatever_their_span(backend: &Backend) {
    let alpha = backend.alpha();
    for step in 1..=1200 {
        let region = if step % 2 == 1 { "eu" } else { "us" };
        publish(backend, &alpha, region, step).await;
    }
    let read = |start: u64, last_sequence: u64, limit: Option<usize>| ReadRequest {
        filter: "alpha.eu.*".to_owned(),
        start: Start::Sequence(seq(start)),
        last_sequence,
        until: None,
        limit,
    };
    let odd = |range: std::ops::RangeInclusive<u64>| -> Vec<u64> {
        range.filter(|sequence| sequence % 2 == 1).collect()
    };
    assert_eq!(
        sequences(backend, &alpha, read(1, 1200, None)).await,
        odd(1..=1200)
    );
    assert_eq!(
        sequences(backend, &alpha, read(101, 300, None)).await,
        odd(101..=300)
    );
    assert_eq!(sequences(backend, &alpha, read(2, 4, None)).await, [3]);
    assert_eq!(
        sequences(backend, &alpha, read(1000, 1200, Some(3))).await,
        [1001, 1003, 1005]
    );
    assert_eq!(
        sequences(backend, &alpha, read(1200, 1200, None)).await,
        Vec::<u64>::new()
    );
    let nowhere = ReadRequest {
        filter: "alpha.nowhere.*".to_owned(),
        ..read(1, 500, None)
    };
    assert!(sequences(backend, &alpha, nowhere).await.is_empty());
}

pub async fn latest_per_subject_unless_duplicates_are_allowed(backend: &Backend) {
    let (alpha, beta) = (backend.alpha(), backend.beta());
    publish(backend, &alpha, "eu", 1).await;
    publish(backend, &alpha, "eu", 1).await;
    assert_eq!(sequences(backend, &alpha, everything(&alpha, 2)).await, [2]);
    publish(backend, &beta, "eu", 1).await;
    publish(backend, &beta, "eu", 1).await;
    assert_eq!(
        sequences(backend, &beta, everything(&beta, 2)).await,
        [1, 2]
    );
}

pub async fn deleted_messages_are_skipped_and_missing_ones_not_found(backend: &Backend) {
    let alpha = backend.alpha();
    for step in 1..=3 {
        publish(backend, &alpha, "eu", step).await;
    }
    assert!(backend.store.get(&alpha, seq(2)).await.unwrap().is_some());
    assert_eq!(
        backend.store.delete(&alpha, seq(2)).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        sequences(backend, &alpha, everything(&alpha, 3)).await,
        [1, 3]
    );
    let from_one = ReadRequest {
        start: Start::Sequence(seq(1)),
        ..everything(&alpha, 3)
    };
    assert_eq!(sequences(backend, &alpha, from_one).await, [1, 3]);
    assert!(backend.store.get(&alpha, seq(2)).await.unwrap().is_none());
    assert_eq!(
        backend.store.delete(&alpha, seq(2)).await.unwrap(),
        DeleteOutcome::NotFound
    );
    assert_eq!(
        backend.store.delete(&alpha, seq(999)).await.unwrap(),
        DeleteOutcome::NotFound
    );
    let beta = backend.beta();
    assert_eq!(
        backend.store.delete(&beta, seq(1)).await.unwrap(),
        DeleteOutcome::NotFound
    );
    let foreign = StreamKey::new("foreign");
    assert!(matches!(
        backend.store.delete(&foreign, seq(1)).await,
        Err(StoreError::UnknownStream(_))
    ));
}

pub async fn purge_keeps_the_stream_usable_and_sequences_counting(backend: &Backend) {
    let alpha = backend.alpha();
    for step in 1..=3 {
        publish(backend, &alpha, "eu", step).await;
    }
    let report = backend.store.purge(&alpha, None, false).await.unwrap();
    assert_eq!(report.count, 3);
    assert!(
        sequences(backend, &alpha, everything(&alpha, 3))
            .await
            .is_empty()
    );
    assert_eq!(publish(backend, &alpha, "eu", 9).await, 4);
    assert_eq!(sequences(backend, &alpha, everything(&alpha, 4)).await, [4]);
    assert_eq!(backend.store.last_sequence(&alpha).await.unwrap(), 4);
}

pub async fn filtered_purge_removes_only_matches_and_dry_runs_nothing(backend: &Backend) {
    let alpha = backend.alpha();
    publish(backend, &alpha, "eu", 1).await;
    publish(backend, &alpha, "us", 1).await;
    publish(backend, &alpha, "eu", 2).await;
    let dry = backend
        .store
        .purge(&alpha, Some("alpha.eu.*"), true)
        .await
        .unwrap();
    assert_eq!(
        (
            dry.count,
            dry.first_sequence.map(Sequence::get),
            dry.last_sequence.map(Sequence::get)
        ),
        (2, Some(1), Some(3))
    );
    assert_eq!(
        sequences(backend, &alpha, everything(&alpha, 3)).await,
        [1, 2, 3]
    );
    let whole = backend.store.purge(&alpha, None, true).await.unwrap();
    assert_eq!(whole.count, 3);
    let real = backend
        .store
        .purge(&alpha, Some("alpha.eu.*"), false)
        .await
        .unwrap();
    assert_eq!(real.count, 2);
    assert_eq!(sequences(backend, &alpha, everything(&alpha, 3)).await, [2]);
}

pub async fn purge_managed_empties_every_managed_stream(backend: &Backend) {
    let (alpha, beta) = (backend.alpha(), backend.beta());
    publish(backend, &alpha, "eu", 1).await;
    publish(backend, &beta, "eu", 1).await;
    publish(backend, &beta, "eu", 2).await;
    let dry = backend.store.purge_managed(true).await.unwrap();
    assert_eq!(dry.iter().map(|(_, report)| report.count).sum::<u64>(), 3);
    assert_eq!(
        sequences(backend, &beta, everything(&beta, 2)).await,
        [1, 2]
    );
    let reports = backend.store.purge_managed(false).await.unwrap();
    let names: Vec<String> = reports.iter().map(|(key, _)| key.stream_name()).collect();
    assert_eq!(names, ["ALPHA", "BETA"]);
    assert!(
        sequences(backend, &alpha, everything(&alpha, 1))
            .await
            .is_empty()
    );
    assert!(
        sequences(backend, &beta, everything(&beta, 2))
            .await
            .is_empty()
    );
    assert_eq!(publish(backend, &beta, "eu", 3).await, 3);
}

pub async fn idempotency_keys_store_once(backend: &Backend) {
    let beta = backend.beta();
    let keyed = |step| Publication {
        idempotency_key: Some("order-42".to_owned()),
        ..publication(&beta, "eu", step)
    };
    let first = backend.store.publish(keyed(1)).await.unwrap();
    assert!(!first.duplicate);
    let again = backend.store.publish(keyed(1)).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.sequence, first.sequence);
    let other = backend
        .store
        .publish(publication(&beta, "eu", 3))
        .await
        .unwrap();
    assert!(!other.duplicate);
    assert_eq!(
        sequences(backend, &beta, everything(&beta, 2)).await,
        [1, 2]
    );
}

pub async fn an_idempotency_key_reused_for_another_request_stores_nothing(backend: &Backend) {
    let beta = backend.beta();
    let keyed = |region, step, payload: &'static str| Publication {
        idempotency_key: Some("order-43".to_owned()),
        payload: Bytes::from_static(payload.as_bytes()),
        ..publication(&beta, region, step)
    };
    let first = backend.store.publish(keyed("eu", 1, "{}")).await.unwrap();
    for (region, step, payload) in [("eu", 2, "{}"), ("us", 1, "{}"), ("eu", 1, "{\"a\":1}")] {
        assert_eq!(
            backend.store.publish(keyed(region, step, payload)).await,
            Err(StoreError::IdempotencyKeyReused("order-43".to_owned())),
            "{region} {step} {payload}"
        );
    }
    let mut polygon = keyed("eu", 1, "{}");
    polygon.headers.push((
        SPATIAL_GEOMETRY_HEADER.to_owned(),
        "[[0,0],[1,1],[1,0],[0,0]]".to_owned(),
    ));
    assert!(matches!(
        backend.store.publish(polygon).await,
        Err(StoreError::IdempotencyKeyReused(_))
    ));
    let again = backend.store.publish(keyed("eu", 1, "{}")).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.sequence, first.sequence);
    assert_eq!(sequences(backend, &beta, everything(&beta, 5)).await, [1]);
}

pub async fn subscribe_hands_over_without_gap_or_duplicate(backend: &Backend) {
    let alpha = backend.alpha();
    for step in 1..=20 {
        publish(backend, &alpha, "eu", step).await;
    }
    // A first subscriber keeps the live source running ahead of the second one.
    let mut early = backend
        .store
        .subscribe(&alpha, "alpha.>".to_owned(), 20, DEFAULT_SUBSCRIBER_BUDGET)
        .await
        .unwrap();
    let total = 220;
    let publisher = {
        let store_stream = alpha.clone();
        let publications: Vec<_> = (21..=total)
            .map(|step| publication(&store_stream, "eu", step))
            .collect();
        publications
    };
    let store = &backend.store;
    let publish_all = async {
        for publication in publisher {
            store.publish(publication).await.unwrap();
            tokio::task::yield_now().await;
        }
    };
    let observe = async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let boundary = store.last_sequence(&alpha).await.unwrap();
        let mut seen: Vec<u64> = sequences(backend, &alpha, everything(&alpha, boundary)).await;
        let mut live = store
            .subscribe(
                &alpha,
                "alpha.>".to_owned(),
                boundary,
                DEFAULT_SUBSCRIBER_BUDGET,
            )
            .await
            .unwrap();
        while seen.last().copied() != Some(total) {
            let message = tokio::time::timeout(Duration::from_secs(10), live.next())
                .await
                .expect("live message within 10 s")
                .unwrap()
                .unwrap();
            seen.push(message.sequence.get());
        }
        seen
    };
    let ((), seen) = tokio::join!(publish_all, observe);
    assert_eq!(seen, (1..=total).collect::<Vec<_>>());
    let first_live = tokio::time::timeout(Duration::from_secs(10), early.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first_live.sequence.get(), 21);
}

pub async fn many_subscribers_each_get_every_message(backend: &Backend) {
    let alpha = backend.alpha();
    let mut subscribers = Vec::new();
    for index in 0..50 {
        let filter = if index % 2 == 0 {
            "alpha.>"
        } else {
            "alpha.eu.*"
        };
        subscribers.push(
            backend
                .store
                .subscribe(&alpha, filter.to_owned(), 0, DEFAULT_SUBSCRIBER_BUDGET)
                .await
                .unwrap(),
        );
    }
    for step in 1..=100 {
        publish(
            backend,
            &alpha,
            if step % 2 == 0 { "eu" } else { "us" },
            step,
        )
        .await;
    }
    for (index, subscriber) in subscribers.iter_mut().enumerate() {
        let expected: BTreeSet<u64> = if index % 2 == 0 {
            (1..=100).collect()
        } else {
            (1..=100).filter(|step| step % 2 == 0).collect()
        };
        let mut got = BTreeSet::new();
        while got.len() < expected.len() {
            let message = tokio::time::timeout(Duration::from_secs(10), subscriber.next())
                .await
                .expect("message within 10 s")
                .unwrap()
                .unwrap();
            got.insert(message.sequence.get());
        }
        assert_eq!(got, expected, "subscriber {index}");
    }
}

pub async fn an_overflowing_subscriber_is_cut_off_with_its_last_sequence(backend: &Backend) {
    let alpha = backend.alpha();
    // Each message here takes about 100 bytes of budget: the slow one holds about 160.
    let budget = 16 * 1024;
    let mut slow = backend
        .store
        .subscribe(&alpha, "alpha.>".to_owned(), 0, budget)
        .await
        .unwrap();
    let mut healthy = backend
        .store
        .subscribe(&alpha, "alpha.>".to_owned(), 0, budget)
        .await
        .unwrap();
    let total = 600;
    let store = &backend.store;
    let drain_healthy = async {
        let mut last = 0;
        while last < total {
            let message = tokio::time::timeout(Duration::from_secs(10), healthy.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(message.sequence.get(), last + 1);
            last = message.sequence.get();
        }
    };
    let publish_all = async {
        for step in 1..=total {
            store
                .publish(publication(&alpha, "eu", step))
                .await
                .unwrap();
            // Give the healthy reader its turn (the memory engine never suspends).
            tokio::task::yield_now().await;
        }
    };
    tokio::join!(drain_healthy, publish_all);
    let mut last = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), slow.next())
            .await
            .unwrap()
        {
            Some(Ok(message)) => last = message.sequence.get(),
            Some(Err(StoreError::SubscriberOverflow { last_sequence })) => {
                assert_eq!(last_sequence, last);
                assert!(last >= 1 && last < total, "cut off after {last}");
                break;
            }
            other => panic!("expected an overflow, got {other:?}"),
        }
    }
}

pub async fn stream_info_reports_counts_and_policy(backend: &Backend) {
    let beta = backend.beta();
    publish(backend, &beta, "eu", 1).await;
    publish(backend, &beta, "eu", 2).await;
    let info = backend.store.stream_info(&beta).await.unwrap();
    assert_eq!(
        (info.messages, info.first_sequence, info.last_sequence),
        (2, 1, 2)
    );
    assert!(info.first_time.is_some() && info.last_time >= info.first_time);
    assert_eq!(info.policy.max_messages_per_subject, -1);
    assert_eq!(info.policy.max_messages, Some(5000));
    assert!(info.policy.compression);
}
