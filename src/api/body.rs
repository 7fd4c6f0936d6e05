//! The body shared by notify, watch and replay, parsed the way aviso parses it: JSON
//! whatever the `Content-Type`, a whitelist of top-level keys, then the typed shape.

use axum::http::{HeaderMap, header};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::BodyError;

/// Whether a request declares a JSON body (`application/json` or `application/*+json`):
/// the routes that insist on it (wipe-stream, destination writes) so that a cross-site
/// form post, which cannot declare it without a preflight, is never taken.
pub(crate) fn declares_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

/// Top-level keys a request may carry (the order aviso lists them in messages).
pub const ALLOWED_FIELDS: [&str; 7] = [
    "event_type",
    "identifier",
    "from_id",
    "from_date",
    "to_id",
    "to_date",
    "payload",
];

/// A notify, watch or replay request before validation against the schema.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct RequestBody {
    pub event_type: String,
    pub identifier: Map<String, Value>,
    pub from_id: Option<String>,
    pub from_date: Option<String>,
    pub to_id: Option<String>,
    pub to_date: Option<String>,
    /// Present and `null` reads as absent, as in aviso.
    pub payload: Option<Value>,
}

/// Most identifier keys a request may carry.
pub(crate) const MAX_IDENTIFIER_KEYS: usize = 64;
/// Longest identifier value, in characters (a schema may set less).
pub(crate) const MAX_VALUE_CHARS: usize = 1000;

/// An identifier over the limits that hold whatever the schema says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("identifier has {0} keys; at most {MAX_IDENTIFIER_KEYS} are accepted")]
    TooManyKeys(usize),
    #[error("Field '{key}' exceeds maximum length of {MAX_VALUE_CHARS} characters, got: {length}")]
    ValueTooLong { key: String, length: usize },
}

impl RequestBody {
    /// Size limits that hold whatever the schema says: key count and value length.
    pub(crate) fn check_limits(&self) -> Result<(), LimitError> {
        if self.identifier.len() > MAX_IDENTIFIER_KEYS {
            return Err(LimitError::TooManyKeys(self.identifier.len()));
        }
        for (key, value) in &self.identifier {
            let length = match value {
                Value::String(text) => text.chars().count(),
                Value::Object(_) | Value::Array(_) => value.to_string().chars().count(),
                other => other.to_string().len(),
            };
            if length > MAX_VALUE_CHARS {
                return Err(LimitError::ValueTooLong {
                    key: key.clone(),
                    length,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, BodyError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|error| BodyError::Json(error.to_string()))?;
        if let Value::Object(object) = &value
            && let Some(unknown) = object
                .keys()
                .find(|key| !ALLOWED_FIELDS.contains(&key.as_str()))
        {
            return Err(BodyError::UnknownField(unknown.clone()));
        }
        serde_json::from_value(value).map_err(|error| BodyError::Shape(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shared_shape() {
        let body =
            RequestBody::parse(br#"{"event_type":"mars","identifier":{"step":1},"from_id":"3"}"#)
                .unwrap();
        assert_eq!(body.event_type, "mars");
        assert_eq!(body.from_id.as_deref(), Some("3"));
        assert!(body.payload.is_none());
        let null =
            RequestBody::parse(br#"{"event_type":"mars","identifier":{},"payload":null}"#).unwrap();
        assert!(null.payload.is_none());
    }

    #[test]
    fn classifies_failures_like_aviso() {
        assert_eq!(
            RequestBody::parse(br#"{"event_type":"mars","identifier":"#),
            Err(BodyError::Json(
                "EOF while parsing a value at line 1 column 34".to_owned()
            ))
        );
        assert_eq!(
            RequestBody::parse(br#"{"event_type":"mars","identifier":{},"foo":1}"#),
            Err(BodyError::UnknownField("foo".to_owned()))
        );
        assert_eq!(
            RequestBody::parse(br#"{"identifier":{}}"#),
            Err(BodyError::Shape("missing field `event_type`".to_owned()))
        );
        assert!(matches!(
            RequestBody::parse(br#"{"event_type":"mars","identifier":{},"from_id":1}"#),
            Err(BodyError::Shape(_))
        ));
        assert!(matches!(
            RequestBody::parse(b"[1]"),
            Err(BodyError::Shape(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = RequestBody::parse(&bytes);
        }
    }
}
