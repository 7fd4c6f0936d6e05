//! A feed: every message stored in one stream, in order, for a consumer that must see each
//! of them once (push-delivery routing). On the jetstream engine it is a durable consumer
//! shared by every instance: each message goes to one of them, and one not acknowledged
//! (its instance died) goes again after the ack wait, so nothing is skipped across
//! crashes. The memory engine's feed is a subscription from a given sequence.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::stream::{BoxStream, StreamExt};

use super::error::{Operation, Outage, StoreError};
use super::jetstream::convert;
use super::types::SharedMessage;

/// Messages handed out and not yet acknowledged, across every instance: one batch. So
/// instances take turns batch by batch, and messages are handled in stream order.
pub const FEED_BATCH: usize = 256;

/// One message of a feed.
pub struct FeedItem {
    pub message: SharedMessage,
    ack: Option<Box<jetstream::Message>>,
}

impl FeedItem {
    /// Marks the message handled: it is not handed out again.
    pub async fn ack(&self) -> Result<(), StoreError> {
        match &self.ack {
            None => Ok(()),
            Some(message) => message
                .ack()
                .await
                .map_err(|_| StoreError::Unavailable(Outage::NotConnected)),
        }
    }
}

/// Batches of what is ready now (at most [`FEED_BATCH`]); an error item ends the feed and
/// the caller opens it again.
pub type Feed = BoxStream<'static, Vec<Result<FeedItem, StoreError>>>;

/// The memory engine's feed over a live subscription.
pub(super) fn from_subscription(subscription: super::Subscription) -> Feed {
    subscription
        .map(|message| message.map(|message| FeedItem { message, ack: None }))
        .ready_chunks(FEED_BATCH)
        .boxed()
}

/// The durable consumer of a feed. `from_start`: for a stream created just now, whose every
/// message is new; otherwise delivery starts with the next message stored.
pub(crate) fn consumer_config(
    name: &str,
    ack_wait: Duration,
    from_start: bool,
) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(name.to_owned()),
        description: Some("Tidings push-delivery router".to_owned()),
        deliver_policy: if from_start {
            consumer::DeliverPolicy::All
        } else {
            consumer::DeliverPolicy::New
        },
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait,
        max_ack_pending: FEED_BATCH as i64,
        max_deliver: -1,
        ..Default::default()
    }
}

/// The jetstream engine's feed: durable consumer `name` on `stream` (made with the stream at
/// reconciliation; made here, from the next message, if it went missing since).
pub(super) async fn durable(
    context: &jetstream::Context,
    stream: &str,
    name: &str,
    ack_wait: Duration,
) -> Result<Feed, StoreError> {
    let config = consumer_config(name, ack_wait, false);
    let consumer: consumer::Consumer<consumer::pull::Config> = context
        .get_stream_no_info(stream)
        .await
        .map_err(|error| convert::request_error(Operation::OpenStream, error))?
        .get_or_create_consumer(name, config)
        .await
        .map_err(|error| convert::request_error(Operation::OpenLiveConsumer, error))?;
    let messages = consumer
        .stream()
        .max_messages_per_batch(FEED_BATCH)
        .heartbeat(Duration::from_secs(10))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .map_err(|error| convert::request_error(Operation::LiveConsumer, error))?;
    Ok(messages
        .map(|message| {
            let message =
                message.map_err(|error| convert::request_error(Operation::LiveConsumer, error))?;
            let (stored, _) = convert::from_consumer(&message)?;
            Ok(FeedItem {
                message: SharedMessage::new(stored),
                ack: Some(Box::new(message)),
            })
        })
        .ready_chunks(FEED_BATCH)
        .boxed())
}
