//! Storing a notification: canonicalise its identifier, address it, publish it, and report
//! it stored only once the store has acknowledged it (JetStream: the stream's quorum).

use serde_json::{Map, Value};

use crate::domain::{EventId, Sequence};
use crate::schema::{EventSchema, Rejection};
use crate::store::{Publication, Store, StoreError};

/// A notification as a producer sends it, already parsed.
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    pub identifier: &'a Map<String, Value>,
    pub payload: Option<Value>,
    /// Makes retries of the same notification harmless within the duplicate window.
    pub idempotency_key: Option<String>,
}

/// A stored notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub sequence: Sequence,
    /// The idempotency key was seen before: this is the first request's notification.
    pub duplicate: bool,
}

impl Stored {
    /// `<event_type>@<sequence>`, as clients then see it in CloudEvents.
    pub fn id(&self, schema: &EventSchema) -> String {
        EventId::new(schema.event_type.as_str(), self.sequence).to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The identifier or payload breaks the schema; nothing was stored.
    #[error(transparent)]
    Invalid(#[from] Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates `notification` against `schema` and stores it.
pub async fn notify(
    store: &Store,
    schema: &EventSchema,
    notification: Notification<'_>,
) -> Result<Stored, NotifyError> {
    let identifier = schema.canonicalize(notification.identifier)?;
    if schema.payload_required() && notification.payload.is_none() {
        return Err(Rejection::PayloadRequired.into());
    }
    let subject = schema.subject(&identifier).map_err(Rejection::from)?;
    let payload = notification.payload.unwrap_or(Value::Null).to_string();
    let mut publication = Publication {
        stream: schema.stream.clone(),
        subject,
        headers: Vec::new(),
        payload: payload.into(),
        idempotency_key: notification.idempotency_key,
    };
    if let Some((_, polygon)) = &identifier.polygon {
        publication = publication.with_polygon(polygon);
    }
    let ack = store.publish(publication).await?;
    tracing::info!(event_type = %schema.event_type, seq = ack.sequence.get(), duplicate = ack.duplicate, "notification stored");
    Ok(Stored {
        sequence: ack.sequence,
        duplicate: ack.duplicate,
    })
}
