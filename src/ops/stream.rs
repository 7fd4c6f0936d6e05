//! Opening a watch or replay: what it selects, then its plan, with the history boundary
//! captured before the 200 is sent (history ≤ boundary < live, so nothing falls between).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::domain::{End, Sequence, Start};
use crate::schema::{EventSchema, IdentifierFilter, Operation, Rejection};
use crate::sse::frame::{FrameContext, Resume};
use crate::sse::session::{Kind, Plan};
use crate::store::{Store, StoreError};
use crate::subject::SubjectError;

/// What a stream delivers: the identifier filter and its NATS subject form.
#[derive(Debug, Clone)]
pub struct Selection {
    pub filter: IdentifierFilter,
    pub nats_filter: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error(transparent)]
    Invalid(#[from] Rejection),
    #[error(transparent)]
    Subject(#[from] SubjectError),
}

/// Checks a watch, replay, browse or purge identifier against `schema`.
/// `operation` only words the rejections (aviso names the endpoint in them).
pub fn select(
    schema: &EventSchema,
    identifier: &Map<String, Value>,
    operation: Operation,
) -> Result<Selection, SelectError> {
    let filter = schema.filter(identifier, operation)?;
    let nats_filter = filter.subject.to_nats_filter()?;
    Ok(Selection {
        filter,
        nats_filter,
    })
}

/// Where a reconnecting client left off (`Last-Event-ID`).
#[derive(Debug, Clone)]
pub struct Resumed {
    /// As the client sent it, echoed in `replay_started`.
    pub last_event_id: String,
    pub after: Sequence,
}

/// A validated watch or replay, before the store is asked where history ends.
pub struct StreamRequest {
    pub kind: Kind,
    /// Route template, for metrics.
    pub route: &'static str,
    pub schema: Arc<EventSchema>,
    pub selection: Selection,
    pub start: Option<Start>,
    pub end: Option<End>,
    pub resumed: Option<Resumed>,
    pub context: FrameContext,
    pub retry: Option<Duration>,
    /// Most history notifications when the schema sets no limit of its own.
    pub default_limit: usize,
}

/// The plan of a stream: the boundary, the last deliverable sequence and the resume facts
/// read from the store now.
pub async fn plan(store: &Store, request: StreamRequest) -> Result<Plan, StoreError> {
    let StreamRequest {
        kind,
        route,
        schema,
        selection,
        start,
        end,
        resumed,
        context,
        retry,
        default_limit,
    } = request;
    let boundary = store.last_sequence(&schema.stream).await?;
    let last_deliverable = match end {
        None => boundary,
        Some(End::Sequence(sequence)) => sequence.min(boundary),
        Some(End::Time(time)) => store
            .last_sequence_at(&schema.stream, time)
            .await?
            .min(boundary),
    };
    let resume = match resumed {
        Some(resumed) => Some(resume(store, &schema, resumed).await?),
        None => None,
    };
    Ok(Plan {
        kind,
        route,
        limit: schema.max_historical_notifications.unwrap_or(default_limit),
        schema,
        filter: selection.filter,
        nats_filter: selection.nats_filter,
        context,
        start,
        end,
        boundary,
        last_deliverable,
        resume,
        retry,
    })
}

/// Whether notifications after the client's last id were removed meanwhile.
async fn resume(
    store: &Store,
    schema: &EventSchema,
    resumed: Resumed,
) -> Result<Resume, StoreError> {
    let info = store.stream_info(&schema.stream).await?;
    let first_available =
        (info.first_sequence > resumed.after.get() + 1).then_some(info.first_sequence);
    Ok(Resume {
        last_event_id: resumed.last_event_id,
        first_available,
    })
}
