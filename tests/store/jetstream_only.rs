//! Checks that only make sense against a real JetStream server.

use std::time::Duration;

use async_nats::jetstream::stream;
use bytes::Bytes;
use futures::StreamExt;
use tidings::domain::StreamKey;
use tidings::store::{Publication, Reconciled, Store, StoreError};
use tidings::subject::Subject;

use crate::backends::{Backend, connect_and_reconcile};

/// A notification of `alpha` on its own subject (region `eu`, step `step`).
fn eu_step(alpha: &StreamKey, step: u64) -> Publication {
    Publication {
        stream: alpha.clone(),
        subject: Subject::build("alpha", ["eu", &step.to_string()]).unwrap(),
        headers: Vec::new(),
        payload: Bytes::from_static(b"null"),
        idempotency_key: None,
    }
}

fn jetstream(backend: &Backend) -> &tidings::store::JetstreamStore {
    backend.store.jetstream().expect("a jetstream backend")
}

#[tokio::test]
async fn streams_have_exactly_the_configured_policy() {
    let backend = Backend::jetstream().await;
    let context = jetstream(&backend).context();
    let mut beta = context.get_stream("BETA").await.unwrap();
    let config = beta.info().await.unwrap().config.clone();
    assert_eq!(config.subjects, ["beta.>"]);
    assert_eq!(config.storage, stream::StorageType::File);
    assert_eq!(config.retention, stream::RetentionPolicy::Limits);
    assert_eq!(config.discard, stream::DiscardPolicy::Old);
    assert_eq!(config.max_messages_per_subject, -1);
    assert_eq!(config.max_messages, 5000);
    assert_eq!(config.max_bytes, 64 * 1024 * 1024);
    assert_eq!(config.max_age, Duration::from_secs(7 * 86_400));
    assert_eq!(config.duplicate_window, Duration::from_secs(60));
    assert_eq!(config.compression, Some(stream::Compression::S2));
    assert_eq!(config.num_replicas, 1);
    let mut alpha = context.get_stream("ALPHA").await.unwrap();
    let config = alpha.info().await.unwrap().config.clone();
    assert_eq!(config.max_messages_per_subject, 1);
    assert_eq!(config.max_messages, -1);
    assert_eq!(config.duplicate_window, Duration::from_secs(120));
}

#[tokio::test]
async fn start_up_on_matching_streams_issues_no_update_and_repairs_drift() {
    let backend = Backend::jetstream().await;
    let store = jetstream(&backend);
    let outcomes = store.reconcile().await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|(_, outcome)| *outcome == Reconciled::Unchanged),
        "{outcomes:?}"
    );
    let second = Store::open(
        &backend.settings,
        crate::backends::specs(&backend.catalog, &backend.settings),
        crate::backends::metrics(),
    )
    .await
    .unwrap();
    connect_and_reconcile(&second).await;
    let second = second.jetstream().expect("a jetstream backend");
    assert!(
        second
            .reconcile()
            .await
            .unwrap()
            .iter()
            .all(|(_, o)| *o == Reconciled::Unchanged)
    );
    let context = store.context();
    let mut config = context
        .get_stream("ALPHA")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .config
        .clone();
    config.max_messages = 10;
    context.update_stream(config).await.unwrap();
    let outcomes = store.reconcile().await.unwrap();
    assert!(
        outcomes.contains(&(backend.alpha(), Reconciled::Updated)),
        "{outcomes:?}"
    );
    let mut alpha = context.get_stream("ALPHA").await.unwrap();
    assert_eq!(alpha.info().await.unwrap().config.max_messages, -1);
}

#[tokio::test]
async fn purge_managed_leaves_foreign_streams_alone() {
    let backend = Backend::jetstream().await;
    let context = jetstream(&backend).context();
    context
        .create_stream(stream::Config {
            name: "FOREIGN".to_owned(),
            subjects: vec!["foreign.>".to_owned()],
            ..Default::default()
        })
        .await
        .unwrap();
    context
        .publish("foreign.x", "keep me".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let alpha = backend.alpha();
    backend.store.publish(eu_step(&alpha, 1)).await.unwrap();
    backend.store.purge_managed(false).await.unwrap();
    let mut foreign = context.get_stream("FOREIGN").await.unwrap();
    assert_eq!(foreign.info().await.unwrap().state.messages, 1);
    assert_eq!(backend.store.stream_info(&alpha).await.unwrap().messages, 0);
}

#[tokio::test]
async fn a_deleted_stream_is_recreated_on_publish() {
    let backend = Backend::jetstream().await;
    let context = jetstream(&backend).context();
    context.delete_stream("ALPHA").await.unwrap();
    let ack = backend
        .store
        .publish(eu_step(&backend.alpha(), 1))
        .await
        .unwrap();
    assert_eq!(ack.sequence.get(), 1);
}

#[tokio::test]
async fn a_nats_restart_is_survived_without_restarting_tidings() {
    let mut backend = Backend::jetstream().await;
    let alpha = backend.alpha();
    let publication = |step: u64| eu_step(&alpha, step);
    backend.store.publish(publication(1)).await.unwrap();
    let nats = backend.nats.as_mut().unwrap();
    nats.kill();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while backend.store.is_connected() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still reports connected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = tokio::time::Instant::now();
    let refused = backend.store.publish(publication(2)).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "failed slowly: {:?}",
        started.elapsed()
    );
    backend.nats.as_mut().unwrap().restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !backend.store.is_connected() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "did not reconnect within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ack = backend.store.publish(publication(3)).await.unwrap();
    assert_eq!(ack.sequence.get(), 2);
}

/// A live consumer the server lost (deleted here; a restart or a leader change does the same)
/// is recreated by async-nats from the stream's first message if it had delivered nothing
/// yet. The hub must not hand that history to its subscribers again: a subscriber whose
/// budget holds one message would be cut off by it as a slow client.
#[tokio::test]
async fn a_live_consumer_lost_before_its_first_message_sends_no_history() {
    let backend = Backend::jetstream().await;
    let alpha = backend.alpha();
    let publication = |step: u64| eu_step(&alpha, step);
    for step in 1..=3 {
        backend.store.publish(publication(step)).await.unwrap();
    }
    let one_message_budget = 1;
    let mut live = backend
        .store
        .subscribe(&alpha, "alpha.>".to_owned(), 3, one_message_budget)
        .await
        .unwrap();
    let context = jetstream(&backend).context();
    let stream = context.get_stream("ALPHA").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut deleted = 0;
    while deleted == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no live consumer appeared"
        );
        let names: Vec<String> = stream
            .consumer_names()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        // The router's durable consumer is not the hub's. The hub's is deleted once its pull
        // waits on the server, which then tells the hub at once: deleted before that, async-nats
        // notices only by missed heartbeats, up to a minute later.
        for name in names.iter().filter(|name| !name.starts_with("tidings_")) {
            if stream.consumer_info(name).await.unwrap().num_waiting > 0 {
                stream.delete_consumer(name).await.unwrap();
                deleted += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The hub recreates its consumer meanwhile; nothing reads the subscription yet, so
    // anything the hub dispatches stays queued against its budget.
    tokio::time::sleep(Duration::from_millis(500)).await;
    backend.store.publish(publication(4)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = tokio::time::timeout(Duration::from_secs(15), live.next())
        .await
        .expect("a live message within 15 s")
        .unwrap();
    assert_eq!(first.map(|message| message.sequence.get()).ok(), Some(4));
}

/// A read whose consumer stops delivering with messages still pending (here: paused on the
/// server, which keeps sending heartbeats, so async-nats sees nothing wrong) reads on with
/// a new consumer after its idle wait, from the message after the last one received, and
/// ends complete and in order.
#[tokio::test]
async fn a_read_whose_consumer_stalls_reads_on_with_a_new_one() {
    let backend = Backend::jetstream().await;
    let alpha = backend.alpha();
    let total = 3000;
    let mut publications = Vec::new();
    for step in 1..=total {
        publications.push(backend.store.publish(eu_step(&alpha, step)));
        if publications.len() == 200 {
            for published in futures::future::join_all(publications.drain(..)).await {
                published.unwrap();
            }
        }
    }
    for published in futures::future::join_all(publications).await {
        published.unwrap();
    }
    let request = tidings::store::ReadRequest {
        filter: "alpha.>".to_owned(),
        start: tidings::store::Start::Beginning,
        last_sequence: total,
        until: None,
        limit: None,
    };
    let mut read = backend.store.read(&alpha, request).await.unwrap();
    let first = read.next().await.unwrap().unwrap();
    assert_eq!(first.sequence.get(), 1);
    // Pause the read's consumer: the stream's only ephemeral one (the delivery router's
    // durable consumer is named `tidings_router`).
    let context = jetstream(&backend).context();
    let stream = context.get_stream("ALPHA").await.unwrap();
    let names: Vec<String> = stream
        .consumer_names()
        .map(|name| name.unwrap())
        .filter(|name| std::future::ready(!name.starts_with("tidings_")))
        .collect()
        .await;
    assert_eq!(names.len(), 1, "{names:?}");
    let until = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    stream.pause_consumer(&names[0], until).await.unwrap();
    let mut sequences = vec![first.sequence.get()];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Some(message) = tokio::time::timeout_at(deadline, read.next())
        .await
        .expect("the read goes on")
    {
        sequences.push(message.expect("no error").sequence.get());
    }
    assert_eq!(sequences, (1..=total).collect::<Vec<_>>());
}
