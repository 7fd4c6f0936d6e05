//! One attempt of a delivery (DELIVERY.md §4, §5): one signed `POST` of a CloudEvent to a
//! destination, judged and written down as the attempt record the API lists.
//!
//! What happens around an attempt (when the next one is due, whether the delivery ends,
//! disabling a destination) belongs to the caller: [`Outcome`] says what the response asks
//! of it (`gone`, `retry_after`) and [`next_delay`] is the schedule arithmetic. Nothing here
//! stores anything, so an attempt can be made for a scheduled delivery, a manual retry, a
//! replay or a test send alike.

mod request;
mod response;
mod schedule;

pub use schedule::{MAX_RETRY_AFTER, next_delay};

use std::str::FromStr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use super::address::{self, AddressError, AddressPolicy};
use super::destination::Destination;
use super::signature::SecretError;
use response::Answer;

/// The §7 default of `delivery.max_response_body`: how much of a response body is kept.
pub const MAX_RESPONSE_BODY: usize = 16 * 1024;

/// The client-wide ceiling, the largest destination timeout (§3: 1 s..60 s). Each request
/// carries its destination's own timeout, which reqwest applies instead, so one client (one
/// connection pool) serves every destination.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// What made the attempt (§5 `trigger`; `test` is the test send of §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Scheduled,
    Manual,
    Replay,
    Test,
}

impl Trigger {
    /// The §5 name, also the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
            Trigger::Replay => "replay",
            Trigger::Test => "test",
        }
    }
}

/// §5 `status` of an attempt: only a 2xx answer is a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    Success,
    Failed,
}

/// §5 `error`: why an attempt failed where a status code does not say it. Only `redirect`
/// and `gone` go with a response (§8); the others mean no response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// No complete response head within the destination's timeout.
    Timeout,
    /// The connection failed or closed before a response: refused, reset, unreachable.
    Connect,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed (bad certificate, not TLS at all).
    Tls,
    /// A 3xx: redirects are never followed, the next hop's address was never checked.
    Redirect,
    /// The address guard refused the URL's host or every address it resolved to.
    BlockedAddress,
    /// A 410: the receiver asks never to be sent anything again.
    Gone,
}

impl ErrorClass {
    /// The label the record carries, for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::Redirect => "redirect",
            Self::BlockedAddress => "blocked_address",
            Self::Gone => "gone",
        }
    }
}

/// One attempt as `GET /api/v1/deliveries/{id}/attempts` shows it (§5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// Numbered from 1 within the delivery.
    pub attempt: u32,
    pub trigger: Trigger,
    /// When the attempt started; also its `webhook-timestamp`.
    #[serde(serialize_with = "rfc3339_millis")]
    pub delivered_at: DateTime<Utc>,
    /// From the start to the end of reading the (capped) response body.
    pub duration_ms: u64,
    pub status: AttemptStatus,
    /// `None` when no response arrived.
    pub response_status_code: Option<u16>,
    /// The first `max_response_body` bytes of the body as text (cut at a UTF-8 boundary,
    /// invalid UTF-8 replaced by U+FFFD); `None` when no response arrived, so an empty body
    /// and no answer at all stay distinguishable.
    pub response_body: Option<String>,
    /// The body was longer than what is kept, or broke off before its end.
    pub response_body_truncated: bool,
    pub error: Option<ErrorClass>,
}

/// Timestamps as every other API timestamp: RFC 3339, milliseconds, `Z`.
fn rfc3339_millis<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

impl AttemptRecord {
    /// Counts and times this attempt (`tidings_delivery_attempts_total` and
    /// `tidings_delivery_attempt_duration_seconds`; a blocked address also counts in
    /// `tidings_delivery_addresses_blocked_total`).
    pub fn observe(&self, metrics: &crate::metrics::Metrics) {
        let outcome = match (self.status, self.error) {
            (_, Some(class)) => class.as_str(),
            (AttemptStatus::Success, None) => "success",
            (AttemptStatus::Failed, None) => "failed",
        };
        let trigger = self.trigger.as_str();
        metrics
            .delivery_attempts
            .with_label_values(&[trigger, outcome])
            .inc();
        metrics
            .delivery_attempt_duration
            .with_label_values(&[trigger])
            .observe(self.duration_ms as f64 / 1000.0);
        if self.error == Some(ErrorClass::BlockedAddress) {
            metrics
                .delivery_blocked
                .with_label_values(&["attempt"])
                .inc();
        }
    }
}

/// An attempt's record and what the response asks of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub record: AttemptRecord,
    /// A 429 or 503 `Retry-After` (delta seconds or HTTP date), at most [`MAX_RETRY_AFTER`]:
    /// hand it to [`next_delay`], where it replaces the schedule's next delay.
    pub retry_after: Option<Duration>,
    /// The receiver answered 410: end the delivery `failed`, whatever the schedule says, and
    /// disable the destination with `disabled_reason: gone`.
    pub gone: bool,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.record.status == AttemptStatus::Success
    }
}

/// What one attempt sends, and how it is numbered.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// URL, headers, timeout, format and signing keys (those in force when the attempt
    /// starts sign it).
    pub destination: &'a Destination,
    /// The CloudEvent as compact JSON, byte for byte what a watcher's `data:` line carries:
    /// the structured-mode body, and where binary mode takes `data` and attributes from.
    pub event: Bytes,
    /// `webhook-id`: the CloudEvent id, the same on every attempt and replay so receivers
    /// can drop duplicates.
    pub webhook_id: &'a str,
    /// The attempt number, from 1.
    pub number: u32,
    pub trigger: Trigger,
}

/// What `Url::parse` fails with (the `url` crate is not a direct dependency).
pub type UrlError = <reqwest::Url as FromStr>::Err;

/// Why no request could be made at all. These come from stored data that validation should
/// have refused (or a broken machine), never from the receiver: the caller records them as
/// it sees fit, typically as a failed attempt. No variant carries a header value or secret.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("the delivery client could not be built: {0}")]
    Client(#[source] reqwest::Error),
    #[error("the destination URL does not parse: {0}")]
    Url(#[source] UrlError),
    /// Refused for its form (scheme, userinfo, no host); blocked hosts are a failed attempt.
    #[error("the destination URL is refused: {0}")]
    Address(#[source] AddressError),
    #[error("header `{name}` has an invalid name or value")]
    Header { name: String },
    #[error("signing key {id} does not read back: {source}")]
    Key {
        id: String,
        #[source]
        source: SecretError,
    },
    /// Sending unsigned would let receivers accept forgeries, or drop every delivery.
    #[error("the destination has no signing key in force")]
    NoKey,
    #[error("the CloudEvent is not a JSON object: {0}")]
    Event(#[source] serde_json::Error),
    #[error("the CloudEvent has no string attribute `{0}`")]
    Attribute(&'static str),
}

/// Makes attempts: the address policy, and the guarded client it goes out with. Build one
/// and share it (clones share the client's connection pool), so that attempts to one
/// receiver reuse connections instead of a TCP and TLS handshake each.
#[derive(Debug, Clone)]
pub struct Attempter {
    policy: AddressPolicy,
    client: reqwest::Client,
    max_response_body: usize,
}

impl Attempter {
    /// An attempter with its own [`address::client`] for `policy`, keeping up to
    /// `max_in_flight` idle connections per receiver host.
    pub fn new(policy: AddressPolicy, max_in_flight: usize) -> Result<Self, AttemptError> {
        let client =
            address::client(policy, CLIENT_TIMEOUT, max_in_flight).map_err(AttemptError::Client)?;
        Ok(Self::with_client(policy, client))
    }

    /// An attempter sharing the caller's client, which must be an [`address::client`] for
    /// the same `policy`: the URL check here covers IP literals only, the client's resolver
    /// every name, and only that client follows no redirect.
    pub fn with_client(policy: AddressPolicy, client: reqwest::Client) -> Self {
        Self {
            policy,
            client,
            max_response_body: MAX_RESPONSE_BODY,
        }
    }

    /// Keeps `bytes` of each response body instead of [`MAX_RESPONSE_BODY`]
    /// (`delivery.max_response_body`).
    pub fn with_max_response_body(mut self, bytes: usize) -> Self {
        self.max_response_body = bytes;
        self
    }

    /// Makes the attempt: signs and sends the request, waits at most the destination's
    /// timeout, keeps at most `max_response_body` bytes of the answer.
    ///
    /// # Errors
    /// Only when no request can be built (see [`AttemptError`]); everything the network or
    /// the receiver does is an [`Outcome`].
    pub async fn attempt(&self, attempt: &Attempt<'_>) -> Result<Outcome, AttemptError> {
        let delivered_at = Utc::now();
        let started = Instant::now();
        let prepared = request::prepare(attempt, delivered_at)?;
        let answer = match self.policy.check_url(&prepared.url) {
            Ok(()) => self.send(attempt, prepared).await,
            Err(AddressError::Blocked { .. }) => Err(ErrorClass::BlockedAddress),
            Err(other) => return Err(AttemptError::Address(other)),
        };
        Ok(outcome(attempt, delivered_at, started.elapsed(), answer))
    }

    async fn send(
        &self,
        attempt: &Attempt<'_>,
        prepared: request::Prepared,
    ) -> Result<Answer, ErrorClass> {
        let https = prepared.url.scheme() == "https";
        let sent = self
            .client
            .post(prepared.url)
            .headers(prepared.headers)
            .body(prepared.body)
            .timeout(attempt.destination.settings.timeout)
            .send()
            .await;
        match sent {
            Ok(answered) => Ok(response::receive(answered, self.max_response_body).await),
            Err(error) => Err(response::classify(&error, https)),
        }
    }
}

/// The record of an attempt that got `answer` (or failed for that reason), and the flags
/// the caller acts on.
fn outcome(
    attempt: &Attempt<'_>,
    delivered_at: DateTime<Utc>,
    elapsed: Duration,
    answer: Result<Answer, ErrorClass>,
) -> Outcome {
    let (status, error) = match &answer {
        Ok(answer) => response::judge(answer.status),
        Err(class) => (AttemptStatus::Failed, Some(*class)),
    };
    let (code, body, truncated, retry_after) = match answer {
        Ok(answer) => (
            Some(answer.status.as_u16()),
            Some(answer.body),
            answer.truncated,
            answer.retry_after,
        ),
        Err(_) => (None, None, false, None),
    };
    let record = AttemptRecord {
        attempt: attempt.number,
        trigger: attempt.trigger,
        delivered_at,
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        status,
        response_status_code: code,
        response_body: body,
        response_body_truncated: truncated,
        error,
    };
    Outcome {
        record,
        retry_after,
        gone: error == Some(ErrorClass::Gone),
    }
}
