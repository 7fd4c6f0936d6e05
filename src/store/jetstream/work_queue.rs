//! The jetstream engine's work queue (rules in [`crate::store::work_queue`]): a work-queue
//! stream, subject `<prefix>.<lane>.<key>`, `Nats-Msg-Id` = task id for the duplicate
//! window, and a durable pull consumer per taken lane named after it with `max_ack_pending`
//! as the lane's pending limit. (The server allows a stream a limited number of consumers,
//! 1,000 by default: lanes are few and shared, keys are many.) Retries are naks with a delay; the consumer has no `backoff` (the
//! server would then shorten `ack_wait` and ignore plain naks' delays) and no `max_deliver`.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, stream};
use futures::StreamExt;
use futures::future::try_join_all;

use super::convert::{self, NatsError};
use crate::store::error::{Cause, Failure, Operation, Outage, StoreError};
use crate::store::work_queue::{Backlog, DUPLICATE_WINDOW, Hold, LaneConfig, Lease, Settle, Task};

/// How long a pull request waits on the server before the client asks again.
const PULL_EXPIRES: Duration = Duration::from_secs(30);
const PULL_HEARTBEAT: Duration = Duration::from_secs(10);
/// Tasks a taker asks for per pull, at most (and at most the lane's pending limit).
const PULL_BATCH: usize = 64;

/// A work queue on one stream.
#[derive(Clone)]
pub struct JetstreamQueue {
    context: jetstream::Context,
    stream: String,
    prefix: String,
}

/// One lane's consumer, as one taker reads it.
pub struct JetstreamLane {
    messages: consumer::pull::Stream,
}

fn refused(
    operation: Operation,
    error: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Backend(Failure::Refused {
        operation,
        source: Cause::new(error),
    })
}

impl NatsError for jetstream::context::CreateStreamError {
    fn is_outage(&self) -> bool {
        matches!(
            self.kind(),
            jetstream::context::CreateStreamErrorKind::TimedOut
        )
    }
}

impl NatsError for consumer::pull::MessagesError {
    fn is_outage(&self) -> bool {
        !matches!(
            self.kind(),
            consumer::pull::MessagesErrorKind::ConsumerDeleted
        )
    }
}

impl JetstreamQueue {
    /// Opens the queue on stream `name` (subjects `<prefix>.>`), creating it when absent.
    pub async fn open(
        context: &jetstream::Context,
        name: &str,
        prefix: &str,
        replicas: usize,
    ) -> Result<Self, StoreError> {
        let config = stream::Config {
            name: name.to_owned(),
            description: Some("Tidings work queue".to_owned()),
            subjects: vec![format!("{prefix}.>")],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            num_replicas: replicas.max(1),
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        };
        context
            .get_or_create_stream(config)
            .await
            .map_err(|error| convert::request_error(Operation::OpenStream, error))?;
        Ok(Self {
            context: context.clone(),
            stream: name.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    fn subject(&self, lane: &str, key: &str) -> String {
        format!("{}.{lane}.{key}", self.prefix)
    }

    async fn handle(&self) -> Result<jetstream::stream::Stream<()>, StoreError> {
        self.context
            .get_stream_no_info(&self.stream)
            .await
            .map_err(|error| convert::request_error(Operation::OpenStream, error))
    }

    /// Publishes every task before awaiting any ack: one round trip for the batch.
    pub(crate) async fn enqueue(&self, tasks: Vec<Task>) -> Result<(), StoreError> {
        let mut pending = Vec::with_capacity(tasks.len());
        for task in tasks {
            let message = jetstream::message::PublishMessage::build()
                .payload(task.payload)
                .message_id(&task.id);
            pending.push(
                self.context
                    .send_publish(self.subject(&task.lane, &task.key), message)
                    .await
                    .map_err(|error| convert::request_error(Operation::Publish, error))?,
            );
        }
        try_join_all(pending.into_iter().map(|ack| async move {
            ack.await
                .map_err(|error| convert::request_error(Operation::Publish, error))
        }))
        .await?;
        Ok(())
    }

    fn consumer_config(&self, lane: &str, config: LaneConfig) -> consumer::pull::Config {
        consumer::pull::Config {
            durable_name: Some(lane.to_owned()),
            description: Some("Tidings work-queue lane".to_owned()),
            filter_subject: self.subject(lane, ">"),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: config.ack_wait,
            max_ack_pending: i64::try_from(config.max_pending.max(1)).unwrap_or(i64::MAX),
            max_deliver: -1,
            ..Default::default()
        }
    }

    pub(crate) async fn take(
        &self,
        lane: &str,
        config: LaneConfig,
    ) -> Result<JetstreamLane, StoreError> {
        let stream = self.handle().await?;
        let wanted = self.consumer_config(lane, config);
        let consumer: consumer::Consumer<consumer::pull::Config> =
            match stream.get_consumer(lane).await {
                Ok(existing) => {
                    let current = &existing.cached_info().config;
                    if current.max_ack_pending != wanted.max_ack_pending
                        || current.ack_wait != wanted.ack_wait
                    {
                        stream
                            .update_consumer(wanted)
                            .await
                            .map_err(|error| refused(Operation::OpenLiveConsumer, error))?
                    } else {
                        existing
                    }
                }
                Err(_) => stream
                    .create_consumer(wanted)
                    .await
                    .map_err(|error| convert::request_error(Operation::OpenLiveConsumer, error))?,
            };
        let messages = consumer
            .stream()
            .max_messages_per_batch(config.max_pending.clamp(1, PULL_BATCH))
            .expires(PULL_EXPIRES)
            .heartbeat(PULL_HEARTBEAT)
            .messages()
            .await
            .map_err(|error| convert::request_error(Operation::LiveConsumer, error))?;
        Ok(JetstreamLane { messages })
    }

    pub(crate) async fn backlog(&self) -> Result<Backlog, StoreError> {
        let stream = self.handle().await?;
        let mut subjects = stream
            .info_with_subjects(format!("{}.>", self.prefix))
            .await
            .map_err(|error| convert::request_error(Operation::StreamInfo, error))?;
        let mut backlog = HashMap::new();
        let prefix = format!("{}.", self.prefix);
        while let Some(entry) = subjects.next().await {
            let (subject, count) =
                entry.map_err(|error| convert::request_error(Operation::StreamInfo, error))?;
            if let Some((lane, key)) = subject
                .strip_prefix(&prefix)
                .and_then(|rest| rest.split_once('.'))
            {
                *backlog
                    .entry((lane.to_owned(), key.to_owned()))
                    .or_insert(0) += count as u64;
            }
        }
        Ok(Backlog(backlog))
    }

    pub(crate) async fn discard(&self, key: &str, own_lanes: &[&str]) -> Result<u64, StoreError> {
        let stream = self.handle().await?;
        for lane in own_lanes {
            // Not there is as good as deleted.
            let _ = stream.delete_consumer(lane).await;
        }
        let purged = stream
            .purge()
            .filter(self.subject("*", key))
            .await
            .map_err(|error| convert::request_error(Operation::Purge, error))?;
        Ok(purged.purged)
    }

    /// Reads the waiting tasks of `key` in `from` through a consumer of its own, queues each
    /// again in `to` (a new id: the old one is still in the duplicate window) and acks it.
    pub(crate) async fn relocate(
        &self,
        from: &str,
        key: &str,
        to: &str,
        from_is_taken: bool,
    ) -> Result<u64, StoreError> {
        let stream = self.handle().await?;
        if from_is_taken {
            let _ = stream.delete_consumer(from).await;
        }
        let name = format!("relocate-{from}-{key}");
        let consumer: consumer::Consumer<consumer::pull::Config> = stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: self.subject(from, key),
                ack_policy: consumer::AckPolicy::Explicit,
                inactive_threshold: Duration::from_secs(60),
                ..Default::default()
            })
            .await
            .map_err(|error| convert::request_error(Operation::OpenLiveConsumer, error))?;
        let mut moved = 0;
        let mut remaining = consumer.cached_info().num_pending;
        while remaining > 0 {
            let mut batch = consumer
                .fetch()
                .max_messages(256)
                .expires(Duration::from_secs(1))
                .messages()
                .await
                .map_err(|error| refused(Operation::LiveConsumer, error))?;
            let mut taken = Vec::new();
            while let Some(message) = batch.next().await {
                match message {
                    Ok(message) => taken.push(message),
                    Err(error) => {
                        return Err(StoreError::Backend(Failure::Metadata(Cause::from_boxed(
                            error,
                        ))));
                    }
                }
            }
            if taken.is_empty() {
                break;
            }
            let tasks = taken
                .iter()
                .map(|message| Task {
                    lane: to.to_owned(),
                    key: key.to_owned(),
                    id: format!(
                        "{}~{}",
                        message
                            .headers
                            .as_ref()
                            .and_then(|headers| headers.get("Nats-Msg-Id"))
                            .map(|id| id.as_str().to_owned())
                            .unwrap_or_default(),
                        uuid::Uuid::new_v4().simple()
                    ),
                    payload: message.payload.clone(),
                })
                .collect();
            self.enqueue(tasks).await?;
            // Confirmed acks: the moved tasks must be gone from `from` before its consumer
            // is deleted, or they would wait there a second time.
            for message in &taken {
                if message.double_ack().await.is_err() {
                    tracing::debug!("a moved task's ack was not confirmed; it may move twice");
                }
            }
            moved += taken.len() as u64;
            remaining = remaining.saturating_sub(taken.len() as u64);
        }
        let _ = stream.delete_consumer(&name).await;
        Ok(moved)
    }
}

impl JetstreamLane {
    pub(crate) async fn next(&mut self) -> Option<Result<Lease, StoreError>> {
        let message = match self.messages.next().await? {
            Ok(message) => message,
            Err(error) => return Some(Err(convert::request_error(Operation::LiveConsumer, error))),
        };
        let deliveries = match message.info() {
            Ok(info) => info.delivered.max(1) as u64,
            Err(error) => {
                return Some(Err(StoreError::Backend(Failure::Metadata(
                    Cause::from_boxed(error),
                ))));
            }
        };
        let id = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get("Nats-Msg-Id"))
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        let key = message
            .subject
            .as_str()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        Some(Ok(Lease {
            id,
            key,
            payload: message.payload.clone(),
            deliveries,
            hold: Hold::Jetstream(Box::new(message)),
        }))
    }
}

/// Acks, naks with a delay, or signals progress; an ack that cannot be sent is an outage
/// (the task then comes back after the ack wait: at least once).
pub(crate) async fn settle(message: &jetstream::Message, settle: Settle) -> Result<(), StoreError> {
    let kind = match settle {
        Settle::Ack => AckKind::Ack,
        Settle::Retry(delay) => AckKind::Nak(Some(delay)),
        Settle::Progress => AckKind::Progress,
    };
    message
        .ack_with(kind)
        .await
        .map_err(|_| StoreError::Unavailable(Outage::NotConnected))
}
