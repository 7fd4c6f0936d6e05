//! A destination as stored and as shown: its URL, subscriptions and delivery settings, its
//! state, its owner and its signing keys (whose values are shown only when made).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::signature::{Secret, SecretError, SecretId};

/// `dst_` + 26 characters of lower-case Crockford base32: a ULID, so ids sort by creation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DestinationId(String);

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const ID_PREFIX: &str = "dst_";

/// Random bytes from the operating system; `None` only if it cannot give any.
pub(crate) fn random_bytes<const N: usize>() -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).ok()?;
    Some(bytes)
}

/// `candidate`, or one past the last id this process made if that is not below it: ids
/// made within one millisecond still sort in the order they were made.
fn monotonic(candidate: u128) -> u128 {
    static LAST: std::sync::Mutex<u128> = std::sync::Mutex::new(0);
    let mut last = LAST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let next = if candidate > *last {
        candidate
    } else {
        last.saturating_add(1)
    };
    *last = next;
    next
}

impl DestinationId {
    /// A new id: 48 bits of milliseconds since the epoch, then 80 random bits.
    pub fn generate(now: DateTime<Utc>) -> Option<Self> {
        let millis = u128::try_from(now.timestamp_millis()).unwrap_or(0) & ((1 << 48) - 1);
        let random = u128::from_be_bytes({
            let mut wide = [0u8; 16];
            wide[6..].copy_from_slice(&random_bytes::<10>()?);
            wide
        });
        let value = monotonic((millis << 80) | random);
        let text: String = (0..26)
            .rev()
            .map(|index| CROCKFORD[((value >> (index * 5)) & 31) as usize] as char)
            .collect();
        Some(Self(format!("{ID_PREFIX}{text}")))
    }

    /// An id as a client sends it, if it has the shape of one.
    pub fn parse(raw: &str) -> Option<Self> {
        let body = raw.strip_prefix(ID_PREFIX)?;
        (body.len() == 26 && body.bytes().all(|byte| CROCKFORD.contains(&byte)))
            .then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DestinationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One event type and the identifier filter (watch syntax) its notifications must pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub event_type: String,
    pub identifier: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ordering {
    Unordered,
    Ordered,
}

/// How a CloudEvent travels (CloudEvents HTTP binding modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Structured,
    Binary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Enabled,
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisabledReason {
    /// An operator disabled it.
    Operator,
    /// The receiver answered 410 Gone.
    Gone,
}

/// A signing key: `whsec_<base64 of 32 bytes>`, with the id the API lists it by and, after
/// a rotation, when it stops being used.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub id: String,
    pub secret: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key; `None` only if the system has no randomness to give.
    pub fn generate() -> Option<Self> {
        let secret = Secret::generate().ok()?;
        Some(Self {
            id: SecretId::generate().ok()?.as_str().to_owned(),
            secret: secret.to_secret_string().expose_secret().to_owned(),
            expires_at: None,
        })
    }

    /// The key, read back for signing.
    pub fn secret(&self) -> Result<Secret, SecretError> {
        self.secret.parse()
    }

    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|end| end > now)
    }
}

/// What an operator chooses (creation fields; `PATCH` replaces any of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub url: String,
    pub subscriptions: Vec<Subscription>,
    pub name: Option<String>,
    pub headers: BTreeMap<String, String>,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "crate::settings::duration_list")]
    pub schedule: Vec<Duration>,
    pub ordering: Ordering,
    pub format: Format,
}

/// A destination as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    pub id: DestinationId,
    #[serde(flatten)]
    pub settings: Settings,
    pub state: State,
    pub disabled_reason: Option<DisabledReason>,
    /// `<realm>/<username>` of its creator (auth on), `None` with auth off.
    pub owner: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub keys: Vec<SigningKey>,
}

/// Durations in the `15s` / `200ms` / `2h` form, as the API shows them.
pub fn duration_text(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

impl Destination {
    /// The API representation: no secret values.
    pub fn view(&self, now: DateTime<Utc>) -> Value {
        let settings = &self.settings;
        serde_json::json!({
            "id": self.id,
            "name": settings.name,
            "url": settings.url,
            "subscriptions": settings.subscriptions,
            "headers": settings.headers,
            "timeout": duration_text(settings.timeout),
            "retry": {"schedule": settings.schedule.iter().copied().map(duration_text).collect::<Vec<_>>()},
            "ordering": settings.ordering,
            "format": settings.format,
            "state": self.state,
            "disabled_reason": self.disabled_reason,
            "owner": self.owner,
            "created_at": self.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "updated_at": self.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "secret_ids": self.keys.iter().filter(|key| key.in_force(now)).map(|key| key.id.clone()).collect::<Vec<_>>(),
            "backlog": 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_ulid_shape_and_sort_by_time() {
        let earlier =
            DestinationId::generate(DateTime::from_timestamp(1_700_000_000, 0).unwrap()).unwrap();
        let later =
            DestinationId::generate(DateTime::from_timestamp(1_700_000_001, 0).unwrap()).unwrap();
        assert_eq!(earlier.as_str().len(), 30);
        assert!(earlier < later);
        let now = Utc::now();
        let burst: Vec<DestinationId> = (0..50)
            .map(|_| DestinationId::generate(now).unwrap())
            .collect();
        assert!(
            burst.windows(2).all(|pair| pair[0] < pair[1]),
            "one millisecond, still in order"
        );
        assert_eq!(DestinationId::parse(earlier.as_str()), Some(earlier));
        for raw in [
            "dst_",
            "dst_0123456789abcdefghjkmnpqrsu",
            "xyz_0123456789abcdefghjkmnpqrs",
            "dst_0123456789ABCDEFGHJKMNPQRS",
        ] {
            assert_eq!(DestinationId::parse(raw), None, "{raw}");
        }
    }

    #[test]
    fn keys_read_back_for_signing_and_are_never_printed() {
        let key = SigningKey::generate().unwrap();
        assert!(key.secret.starts_with("whsec_") && key.id.starts_with("sec_"));
        assert!(key.secret().is_ok());
        assert!(!format!("{key:?}").contains(&key.secret));
    }
}
