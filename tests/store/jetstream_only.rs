//! Checks that only make sense against a real JetStream server.

use std::time::Duration;

use async_nats::jetstream::stream;
use bytes::Bytes;
use tidings::store::{Publication, Reconciled, Store, StoreError};
use tidings::subject::Subject;

use crate::backends::{Backend, connect_and_reconcile};

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
    backend
        .store
        .publish(Publication {
            stream: alpha.clone(),
            subject: Subject::build("alpha", ["eu", "1"]).unwrap(),
            headers: Vec::new(),
            payload: Bytes::from_static(b"null"),
            idempotency_key: None,
        })
        .await
        .unwrap();
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
        .publish(Publication {
            stream: backend.alpha(),
            subject: Subject::build("alpha", ["eu", "1"]).unwrap(),
            headers: Vec::new(),
            payload: Bytes::from_static(b"null"),
            idempotency_key: None,
        })
        .await
        .unwrap();
    assert_eq!(ack.sequence.get(), 1);
}

#[tokio::test]
async fn a_nats_restart_is_survived_without_restarting_tidings() {
    let mut backend = Backend::jetstream().await;
    let alpha = backend.alpha();
    let publication = |step: u64| Publication {
        stream: alpha.clone(),
        subject: Subject::build("alpha", ["eu", &step.to_string()]).unwrap(),
        headers: Vec::new(),
        payload: Bytes::from_static(b"null"),
        idempotency_key: None,
    };
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
