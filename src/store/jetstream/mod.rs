//! The JetStream engine (async-nats): streams laid out as aviso's, publish acknowledged
//! before answering, reads through ordered consumers, one live consumer per stream shared
//! by all subscribers, and a connection that retries forever while requests fail fast.

mod by_sequence;
mod connection;
pub(crate) mod consumers;
pub(crate) mod convert;
mod kv_errors;
mod live;
mod publish;
mod reader;
mod streams;
pub(crate) mod work_queue;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{
    self,
    context::GetStreamErrorKind,
    stream::{DeleteMessageErrorKind, LastRawMessageErrorKind},
};
use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::broadcast;

pub use streams::Reconciled;

use super::error::{Failure, Lock, Operation, Outage, StoreError};
use super::fanout::{self, FanOut, Subscription};
use super::retraction::{self, RETRACTION_SUBJECT, Retraction};
use super::types::{
    DeleteOutcome, PurgeReport, ReadRequest, SharedMessage, Start, StreamInfo, StreamSpec,
};
use crate::domain::{Sequence, StreamKey};
use crate::metrics::Metrics;
use crate::settings::JetstreamSettings;

/// How long a purge waits for NATS's answer (a filtered purge of a large stream is slow).
const PURGE_WAIT: Duration = Duration::from_secs(600);

pub struct JetstreamStore {
    client: async_nats::Client,
    context: jetstream::Context,
    specs: HashMap<String, StreamSpec>,
    hubs: live::Hubs,
    request_timeout: Duration,
    retractions: broadcast::Sender<Retraction>,
}

impl JetstreamStore {
    /// Connects (in the background if NATS is not up yet: the client retries forever).
    pub async fn connect(
        settings: &JetstreamSettings,
        specs: Vec<StreamSpec>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let client = connection::connect(settings, metrics).await?;
        let context = jetstream::new(client.clone());
        let retractions = retraction::channel();
        connection::spawn_retraction_listener(client.clone(), retractions.clone()).await;
        Ok(Self {
            client,
            context,
            specs: specs
                .into_iter()
                .map(|spec| (spec.key.stream_name(), spec))
                .collect(),
            hubs: Arc::new(Mutex::new(HashMap::new())),
            request_timeout: settings.request_timeout,
            retractions,
        })
    }

    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    pub(crate) fn ensure_connected(&self) -> Result<(), StoreError> {
        if self.is_connected() {
            Ok(())
        } else {
            Err(StoreError::Unavailable(Outage::NotConnected))
        }
    }

    fn spec(&self, key: &StreamKey) -> Result<&StreamSpec, StoreError> {
        self.specs
            .get(&key.stream_name())
            .ok_or_else(|| StoreError::UnknownStream(key.clone()))
    }

    /// Creates or reconciles every managed stream; run once at start-up.
    pub async fn reconcile(&self) -> Result<Vec<(StreamKey, Reconciled)>, StoreError> {
        self.ensure_connected()?;
        let mut outcomes = Vec::new();
        let mut specs: Vec<&StreamSpec> = self.specs.values().collect();
        specs.sort_by(|a, b| a.key.cmp(&b.key));
        for spec in specs {
            outcomes.push((
                spec.key.clone(),
                streams::reconcile(&self.context, spec).await?,
            ));
        }
        Ok(outcomes)
    }

    async fn stream_handle(
        &self,
        key: &StreamKey,
    ) -> Result<jetstream::stream::Stream<()>, StoreError> {
        self.ensure_connected()?;
        self.spec(key)?;
        self.context
            .get_stream_no_info(key.stream_name())
            .await
            .map_err(|error| convert::request_error(Operation::OpenStream, error))
    }

    pub async fn get(
        &self,
        key: &StreamKey,
        sequence: Sequence,
    ) -> Result<Option<SharedMessage>, StoreError> {
        let stream = self.stream_handle(key).await?;
        match stream.get_raw_message(sequence.get()).await {
            Ok(message) => Ok(Some(SharedMessage::new(convert::from_stream_message(
                message,
            )?))),
            Err(error)
                if match error.kind() {
                    LastRawMessageErrorKind::NoMessageFound => true,
                    LastRawMessageErrorKind::JetStream(ref inner) => is_missing_message(inner),
                    _ => false,
                } =>
            {
                Ok(None)
            }
            Err(error) => Err(convert::request_error(Operation::GetMessage, error)),
        }
    }

    pub async fn delete(
        &self,
        key: &StreamKey,
        sequence: Sequence,
    ) -> Result<DeleteOutcome, StoreError> {
        if self.spec(key)?.protected {
            return Err(StoreError::Protected(key.clone()));
        }
        let stream = self.stream_handle(key).await?;
        match stream.delete_message(sequence.get()).await {
            Ok(true) => Ok(DeleteOutcome::Deleted),
            Ok(false) => Ok(DeleteOutcome::NotFound),
            Err(error) if matches!(error.kind(), DeleteMessageErrorKind::JetStream(ref inner) if is_missing_message(inner)) => {
                Ok(DeleteOutcome::NotFound)
            }
            Err(error) => Err(convert::request_error(Operation::DeleteMessage, error)),
        }
    }

    pub async fn purge(
        &self,
        key: &StreamKey,
        filter: Option<&str>,
        dry_run: bool,
    ) -> Result<PurgeReport, StoreError> {
        if self.spec(key)?.protected {
            return Err(StoreError::Protected(key.clone()));
        }
        let report = self.count(key, filter).await?;
        if dry_run || report.count == 0 {
            return Ok(report);
        }
        // NATS takes seconds to purge by a wildcard filter over a stream of a million
        // subjects: past the usual request timeout it would still purge while Tidings
        // answered 503. The operation runs to its end anyway (see `api::admin`), so wait.
        self.ensure_connected()?;
        let mut patient = self.context.clone();
        patient.set_timeout(PURGE_WAIT.max(self.request_timeout));
        let stream = patient
            .get_stream_no_info(key.stream_name())
            .await
            .map_err(|error| convert::request_error(Operation::OpenStream, error))?;
        let purge = match filter {
            Some(filter) => stream.purge().filter(filter).await,
            None => stream.purge().await,
        };
        let response = purge.map_err(|error| convert::request_error(Operation::Purge, error))?;
        Ok(PurgeReport {
            count: response.purged,
            ..report
        })
    }

    /// Count, first and last sequence of the messages a purge would remove.
    async fn count(
        &self,
        key: &StreamKey,
        filter: Option<&str>,
    ) -> Result<PurgeReport, StoreError> {
        let info = self.stream_info(key).await?;
        if info.messages == 0 {
            return Ok(PurgeReport::default());
        }
        let Some(filter) = filter else {
            return Ok(PurgeReport {
                count: info.messages,
                first_sequence: Sequence::new(info.first_sequence),
                last_sequence: Sequence::new(info.last_sequence),
            });
        };
        let mut report = PurgeReport::default();
        let mut matching = self
            .read(
                key,
                ReadRequest {
                    filter: filter.to_owned(),
                    start: Start::Beginning,
                    last_sequence: info.last_sequence,
                    until: None,
                    limit: None,
                },
            )
            .await?;
        while let Some(message) = matching.next().await {
            let sequence = message?.sequence;
            report.count += 1;
            report.first_sequence.get_or_insert(sequence);
            report.last_sequence = Some(sequence);
        }
        Ok(report)
    }

    /// A KV bucket of documents (see [`crate::store::Documents`]).
    pub async fn documents(
        &self,
        name: &str,
        options: crate::store::BucketOptions,
    ) -> Result<crate::store::Documents, StoreError> {
        let bucket = kv_errors::open_bucket(&self.context, name, options).await?;
        Ok(crate::store::Documents::in_kv(bucket))
    }

    pub fn managed_streams(&self) -> Vec<StreamKey> {
        let mut keys: Vec<StreamKey> = self
            .specs
            .values()
            .filter(|spec| !spec.protected)
            .map(|spec| spec.key.clone())
            .collect();
        keys.sort();
        keys
    }

    pub async fn last_sequence(&self, key: &StreamKey) -> Result<u64, StoreError> {
        Ok(self.stream_info(key).await?.last_sequence)
    }

    /// The sequence before the first message stored after `time` (the last sequence when
    /// none is): where a replay bounded by `to_date` ends.
    pub async fn last_sequence_at(
        &self,
        key: &StreamKey,
        time: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.ensure_connected()?;
        let replicated = self.spec(key)?.policy.replicas > 1;
        reader::last_sequence_at(&self.context, &key.stream_name(), time, replicated).await
    }

    pub async fn read(
        &self,
        key: &StreamKey,
        request: ReadRequest,
    ) -> Result<BoxStream<'static, Result<SharedMessage, StoreError>>, StoreError> {
        self.ensure_connected()?;
        let replicated = self.spec(key)?.policy.replicas > 1;
        reader::read(
            &self.context,
            &key.stream_name(),
            request,
            self.request_timeout * 2,
            replicated,
        )
        .await
    }

    pub async fn subscribe(
        &self,
        key: &StreamKey,
        filter: String,
        after: u64,
        budget: usize,
    ) -> Result<Subscription, StoreError> {
        self.ensure_connected()?;
        self.spec(key)?;
        let name = key.stream_name();
        let attachment = {
            let mut hubs = self
                .hubs
                .lock()
                .map_err(|_| StoreError::Backend(Failure::Poisoned(Lock::HubRegistry)))?;
            let hub = match hubs.get(&name) {
                Some(hub) => hub.clone(),
                None => {
                    let hub = Arc::new(Mutex::new(FanOut::new(after)));
                    hubs.insert(name.clone(), hub.clone());
                    tokio::spawn(live::run_hub(
                        self.context.clone(),
                        name.clone(),
                        after,
                        hub.clone(),
                        self.hubs.clone(),
                    ));
                    hub
                }
            };
            let mut fanout = hub
                .lock()
                .map_err(|_| StoreError::Backend(Failure::Poisoned(Lock::Hub)))?;
            fanout.attach(filter.clone(), budget)
        };
        let catch_up = match attachment.catch_up(filter, after) {
            Some(request) => Some(self.read(key, request).await?),
            None => None,
        };
        Ok(fanout::subscription(after, attachment, catch_up))
    }

    pub async fn stream_info(&self, key: &StreamKey) -> Result<StreamInfo, StoreError> {
        self.ensure_connected()?;
        let spec = self.spec(key)?;
        // `get_stream` asks the server for the stream's info: its answer is the info (a
        // second `info()` request cost every replay, watch and browse one more round trip).
        let stream = match self.context.get_stream(key.stream_name()).await {
            Ok(stream) => stream,
            Err(error)
                if matches!(error.kind(), GetStreamErrorKind::JetStream(ref inner)
                    if inner.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
            {
                // Not created yet (start-up reconciliation still running) or deleted by
                // hand: create it as configured, then answer.
                streams::reconcile(&self.context, spec).await?;
                self.context
                    .get_stream(key.stream_name())
                    .await
                    .map_err(|error| convert::request_error(Operation::StreamInfo, error))?
            }
            Err(error) => return Err(convert::request_error(Operation::StreamInfo, error)),
        };
        let info = stream.cached_info();
        let state = &info.state;
        let has_messages = state.messages > 0;
        Ok(StreamInfo {
            key: spec.key.clone(),
            messages: state.messages,
            bytes: state.bytes,
            first_sequence: state.first_sequence,
            last_sequence: state.last_sequence,
            first_time: has_messages.then(|| convert::to_chrono(state.first_timestamp)),
            last_time: has_messages.then(|| convert::to_chrono(state.last_timestamp)),
            policy: spec.policy.clone(),
        })
    }

    /// Publishes a retraction for every instance (this one included, through its listener).
    pub async fn announce(&self, retraction: Retraction) {
        match serde_json::to_vec(&retraction) {
            Ok(bytes) => {
                if let Err(error) = self.client.publish(RETRACTION_SUBJECT, bytes.into()).await {
                    tracing::warn!(%error, "could not announce a retraction");
                }
            }
            Err(error) => tracing::warn!(%error, "could not encode a retraction"),
        }
    }

    pub fn retractions(&self) -> broadcast::Receiver<Retraction> {
        self.retractions.subscribe()
    }

    /// Flushes pending publishes and drains the connection.
    pub async fn close(&self) {
        let _ = self.client.flush().await;
        if let Err(error) = self.client.drain().await {
            tracing::debug!(%error, "drain");
        }
    }

    /// The underlying context, for tests and tools that inspect streams directly.
    pub fn context(&self) -> &jetstream::Context {
        &self.context
    }
}

/// JetStream's ways of saying "no such message" (the sequence was never used, was
/// deleted, or lies beyond the stream's end).
fn is_missing_message(error: &jetstream::Error) -> bool {
    use jetstream::ErrorCode;
    [
        ErrorCode::NO_MESSAGE_FOUND,
        ErrorCode::SEQUENCE_NOT_FOUND,
        ErrorCode::STREAM_MESSAGE_DELETE_FAILED,
    ]
    .contains(&error.error_code())
}
