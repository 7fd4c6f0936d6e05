//! Stream layout as aviso lays it out (name = upper-cased base, subjects `<base>.>`, file
//! storage, limits retention, discard old) plus the policy from schema and settings, and
//! the start-up reconciliation that compares normalised values and updates only on drift.

use async_nats::jetstream::{self, stream};

use crate::domain::StreamKey;
use crate::store::error::{Cause, Failure, Operation, Outage, ReconcileStep, StoreError};
use crate::store::types::StreamSpec;

/// What start-up reconciliation did to one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    Created,
    Updated,
    Unchanged,
}

/// The configuration Tidings wants for a stream.
pub(crate) fn desired_config(spec: &StreamSpec) -> stream::Config {
    let policy = &spec.policy;
    stream::Config {
        name: spec.key.stream_name(),
        subjects: vec![format!("{}.>", spec.key.base())],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        max_messages_per_subject: policy.max_messages_per_subject,
        max_age: policy.max_age.unwrap_or_default(),
        max_messages: policy.max_messages.unwrap_or(-1),
        max_bytes: policy.max_bytes.unwrap_or(-1),
        num_replicas: policy.replicas,
        compression: Some(if policy.compression {
            stream::Compression::S2
        } else {
            stream::Compression::None
        }),
        duplicate_window: policy.duplicate_window,
        allow_direct: true,
        deny_delete: spec.protected,
        deny_purge: spec.protected,
        ..Default::default()
    }
}

/// The fields Tidings owns, normalised the way the server reports them (0 and -1 both
/// mean "unlimited", an absent compression means none).
fn owned_fields(config: &stream::Config) -> impl PartialEq + std::fmt::Debug {
    let unlimited = |value: i64| if value <= 0 { -1 } else { value };
    (
        config.subjects.clone(),
        unlimited(config.max_messages_per_subject),
        config.max_age,
        unlimited(config.max_messages),
        unlimited(config.max_bytes),
        config.num_replicas.max(1),
        matches!(config.compression, Some(stream::Compression::S2)),
        config.duplicate_window,
        config.retention,
        config.discard,
        (config.deny_delete, config.deny_purge),
    )
}

/// A reconciliation step that failed after the stream was looked up: reported as `Backend`
/// whatever the error's kind, as reconciliation always has.
fn refused(
    step: ReconcileStep,
    stream: &StreamKey,
    error: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Backend(Failure::Refused {
        operation: Operation::Reconcile(step, stream.clone()),
        source: Cause::new(error),
    })
}

/// Creates the stream, or updates it when an owned field drifted; leaves it alone otherwise.
pub(crate) async fn reconcile(
    context: &jetstream::Context,
    spec: &StreamSpec,
) -> Result<Reconciled, StoreError> {
    let outcome = reconcile_stream(context, spec).await?;
    if let Some(feed) = &spec.feed {
        ensure_feed(context, spec, feed, outcome == Reconciled::Created).await?;
    }
    Ok(outcome)
}

/// Makes the stream's feed consumer when it is missing: from the first message for a
/// stream created just now (so a notification stored before the consumer was there is
/// routed too), else from the next one.
async fn ensure_feed(
    context: &jetstream::Context,
    spec: &StreamSpec,
    feed: &crate::store::FeedSpec,
    created: bool,
) -> Result<(), StoreError> {
    let stream = context
        .get_stream_no_info(spec.key.stream_name())
        .await
        .map_err(|error| refused(ReconcileStep::Inspect, &spec.key, error))?;
    if stream
        .get_consumer::<jetstream::consumer::pull::Config>(&feed.name)
        .await
        .is_ok()
    {
        return Ok(());
    }
    let config = crate::store::feed::consumer_config(&feed.name, feed.ack_wait, created);
    match stream.create_consumer(config).await {
        Ok(_) => tracing::info!(stream = %spec.key, consumer = %feed.name, "feed consumer created"),
        // Another reconciliation (this instance's publish path, or another instance) made
        // it in between: that one stands.
        Err(_)
            if stream
                .get_consumer::<jetstream::consumer::pull::Config>(&feed.name)
                .await
                .is_ok() => {}
        // Not worth failing the stream for: the router makes it when it opens the feed.
        Err(error) => {
            tracing::warn!(stream = %spec.key, consumer = %feed.name, %error, "feed consumer not made")
        }
    }
    Ok(())
}

async fn reconcile_stream(
    context: &jetstream::Context,
    spec: &StreamSpec,
) -> Result<Reconciled, StoreError> {
    let desired = desired_config(spec);
    let name = desired.name.clone();
    match context.get_stream(&name).await {
        Ok(mut existing) => {
            let current = existing
                .info()
                .await
                .map_err(|error| refused(ReconcileStep::Inspect, &spec.key, error))?
                .config
                .clone();
            if owned_fields(&current) == owned_fields(&desired) {
                return Ok(Reconciled::Unchanged);
            }
            let mut updated = current.clone();
            updated.subjects = desired.subjects;
            updated.max_messages_per_subject = desired.max_messages_per_subject;
            updated.max_age = desired.max_age;
            updated.max_messages = desired.max_messages;
            updated.max_bytes = desired.max_bytes;
            updated.num_replicas = desired.num_replicas;
            updated.compression = desired.compression;
            updated.duplicate_window = desired.duplicate_window;
            updated.retention = desired.retention;
            updated.discard = desired.discard;
            updated.deny_delete = desired.deny_delete;
            updated.deny_purge = desired.deny_purge;
            tracing::info!(stream = %name, before = ?owned_fields(&current), after = ?owned_fields(&updated), "stream policy drifted; updating");
            context
                .update_stream(updated)
                .await
                .map_err(|error| refused(ReconcileStep::Update, &spec.key, error))?;
            Ok(Reconciled::Updated)
        }
        Err(error)
            if matches!(error.kind(), jetstream::context::GetStreamErrorKind::JetStream(ref e)
                if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            context
                .create_stream(desired)
                .await
                .map_err(|error| refused(ReconcileStep::Create, &spec.key, error))?;
            tracing::info!(stream = %name, "stream created");
            Ok(Reconciled::Created)
        }
        Err(error) => Err(StoreError::Unavailable(Outage::Request {
            operation: Operation::Reconcile(ReconcileStep::Inspect, spec.key.clone()),
            source: Cause::new(error),
        })),
    }
}
