//! Publishing: acknowledged by JetStream before the caller answers, idempotency keys as
//! `Nats-Msg-Id` bound to the request's fingerprint, and a stream deleted by hand
//! recreated once.

use async_nats::jetstream::{self, context::PublishErrorKind};

use super::{JetstreamStore, convert, streams};
use crate::domain::Sequence;
use crate::store::error::{Answer, Failure, Operation, Outage, StoreError};
use crate::store::types::{Publication, PublishAck, REQUEST_HASH_HEADER};

impl JetstreamStore {
    /// Sends `publication` as a core NATS message, which the stream over its subject stores
    /// without answering: no ack to wait for or to process, and no word of a loss either.
    /// For records whose loss costs nothing but a gap in an observer's view (delivery
    /// outcomes); no headers, no idempotency key.
    pub async fn send_unconfirmed(&self, publication: Publication) -> Result<(), StoreError> {
        self.ensure_connected()?;
        self.spec(&publication.stream)?;
        self.context
            .client()
            .publish(publication.subject.as_str().to_owned(), publication.payload)
            .await
            .map_err(|error| {
                StoreError::Unavailable(Outage::Request {
                    operation: Operation::Publish,
                    source: crate::store::error::Cause::new(error),
                })
            })
    }

    pub async fn publish(&self, publication: Publication) -> Result<PublishAck, StoreError> {
        self.ensure_connected()?;
        let spec = self.spec(&publication.stream)?;
        let fingerprint = publication
            .idempotency_key
            .as_ref()
            .map(|_| publication.fingerprint().to_string());
        let ack = match self.try_publish(&publication, fingerprint.as_deref()).await {
            Err(PublishFailure::NoStream) => {
                // The stream vanished (deleted by hand): recreate it as configured, once.
                streams::reconcile(&self.context, spec).await?;
                self.try_publish(&publication, fingerprint.as_deref())
                    .await
                    .map_err(PublishFailure::into_store_error)
            }
            other => other.map_err(PublishFailure::into_store_error),
        }?;
        if ack.duplicate
            && let Some(key) = &publication.idempotency_key
            && let Some(fingerprint) = &fingerprint
        {
            // The ack names the original message: it is this request only if it stored the
            // same fingerprint. One deleted since (or stored without one) cannot be compared,
            // and the key still holds, so it stays a duplicate.
            let original = self.get(&publication.stream, ack.sequence).await?;
            if original
                .as_ref()
                .and_then(|message| message.header(REQUEST_HASH_HEADER))
                .is_some_and(|stored| stored != fingerprint)
            {
                return Err(StoreError::IdempotencyKeyReused(key.clone()));
            }
        }
        Ok(ack)
    }

    async fn try_publish(
        &self,
        publication: &Publication,
        fingerprint: Option<&str>,
    ) -> Result<PublishAck, PublishFailure> {
        let mut message =
            jetstream::message::PublishMessage::build().payload(publication.payload.clone());
        for (name, value) in &publication.headers {
            message = message.header(name.as_str(), value.as_str());
        }
        if let Some(key) = &publication.idempotency_key {
            message = message.message_id(key);
        }
        if let Some(fingerprint) = fingerprint {
            message = message.header(REQUEST_HASH_HEADER, fingerprint);
        }
        let pending = self
            .context
            .send_publish(publication.subject.as_str().to_owned(), message)
            .await
            .map_err(PublishFailure::from_error)?;
        let ack = pending.await.map_err(PublishFailure::from_error)?;
        let sequence = Sequence::new(ack.sequence).ok_or(PublishFailure::Other(
            StoreError::Backend(Failure::ZeroSequence(Answer::PublishAck)),
        ))?;
        Ok(PublishAck {
            sequence,
            time: chrono::Utc::now(),
            duplicate: ack.duplicate,
        })
    }
}

enum PublishFailure {
    NoStream,
    Other(StoreError),
}

impl PublishFailure {
    fn from_error(error: jetstream::context::PublishError) -> Self {
        match error.kind() {
            PublishErrorKind::StreamNotFound => PublishFailure::NoStream,
            _ => PublishFailure::Other(convert::request_error(Operation::Publish, error)),
        }
    }

    fn into_store_error(self) -> StoreError {
        match self {
            PublishFailure::NoStream => {
                StoreError::Unavailable(Outage::StreamMissing(Operation::Publish))
            }
            PublishFailure::Other(error) => error,
        }
    }
}
