//! The admin envelope and its additions, the `?dry_run=` switch, and the strict reading of
//! what a destructive request may carry (nothing unknown passes silently).

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Serialize;
use serde_json::Value;

use crate::api::error::{AdminError, ApiError};
use crate::domain::Sequence;
use crate::store::{PurgeReport, StoreError};

/// The one query parameter a destructive route takes.
pub(crate) const DRY_RUN: &str = "dry_run";

/// `?dry_run=true|false`: same validation and answer, nothing removed. Destructive routes take
/// no other query parameter, and `dry_run` takes no other value: a misspelled switch
/// (`DRY_RUN`, `dryrun`, `dry-run`, `dry_run=yes`) is refused, since ignoring it would delete
/// for real. Extraction never fails: the refusal is kept for the handler, which audits it.
#[derive(Debug, Clone)]
pub(crate) struct DryRun(Result<bool, DryRunError>);

/// Why a destructive route's query string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DryRunError {
    #[error("the query string is not valid")]
    Unreadable,
    #[error(
        "unknown query parameter '{name}'{}; the only accepted one is dry_run=true|false",
        did_you_mean(.name)
    )]
    UnknownParameter { name: String },
    #[error("dry_run must be given once")]
    Repeated,
    #[error("dry_run must be true or false, got '{0}'")]
    NotABoolean(String),
}

impl DryRun {
    /// Reads the raw query string (`None`: no `?`).
    pub(crate) fn parse(query: Option<&str>) -> Self {
        Self(parse_dry_run(query.unwrap_or_default()))
    }

    /// Whether a dry run was validly asked for (what the audit trail records).
    pub(crate) fn requested(&self) -> bool {
        matches!(self.0, Ok(true))
    }

    /// The switch, or the admin-shaped 400 that names what was wrong.
    pub(crate) fn check(&self) -> Result<bool, ApiError> {
        self.0.clone().map_err(|error| invalid(error.to_string()))
    }

    /// [`DryRun::check`] for the routes that take no body ([`refuse_body`]).
    pub(crate) fn check_bodyless(&self, body: &[u8]) -> Result<bool, ApiError> {
        let dry_run = self.check()?;
        refuse_body(body)?;
        Ok(dry_run)
    }
}

/// `dryrun`, `DRY-RUN`, `Dry_Run`...: worth a "did you mean".
fn looks_like_dry_run(name: &str) -> bool {
    let letters: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    letters.eq_ignore_ascii_case("dryrun")
}

fn did_you_mean(name: &str) -> &'static str {
    if looks_like_dry_run(name) {
        " (did you mean dry_run?)"
    } else {
        ""
    }
}

fn parse_dry_run(query: &str) -> Result<bool, DryRunError> {
    let uri = format!("/?{query}")
        .parse()
        .map_err(|_| DryRunError::Unreadable)?;
    let pairs = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map_err(|_| DryRunError::Unreadable)?
        .0;
    let mut value = None;
    for (name, given) in pairs {
        if name != DRY_RUN {
            return Err(DryRunError::UnknownParameter { name });
        }
        if value.replace(given).is_some() {
            return Err(DryRunError::Repeated);
        }
    }
    match value.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(DryRunError::NotABoolean(other.to_owned())),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for DryRun {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::parse(parts.uri.query()))
    }
}

fn unknown_field(key: &str, accepted: &[&str]) -> ApiError {
    let accepted = if accepted.is_empty() {
        "this route takes no body fields".to_owned()
    } else {
        format!("accepted fields: {}", accepted.join(", "))
    };
    let hint = if looks_like_dry_run(key) {
        " (a dry run is the query parameter ?dry_run=true)"
    } else {
        ""
    };
    invalid(format!(
        "unknown field '{key}' in the request body; {accepted}{hint}"
    ))
}

/// Refuses a JSON object body with keys outside `accepted`: an unknown field (a misplaced
/// `dry_run`, a typo) is never ignored. Bodies that are not JSON objects pass, for the typed
/// parse to word the error as aviso does.
pub(crate) fn refuse_unknown_fields(body: &[u8], accepted: &[&str]) -> Result<(), ApiError> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    match fields.keys().find(|key| !accepted.contains(&key.as_str())) {
        Some(key) => Err(unknown_field(key, accepted)),
        None => Ok(()),
    }
}

/// For routes that take no body (delete one, wipe all; aviso clients send none): no body,
/// whitespace or `{}` pass; anything else is a 400, so `{"dry_run":true}` never deletes.
pub(crate) fn refuse_body(body: &[u8]) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => match fields.keys().next() {
            Some(key) => Err(unknown_field(key, &[])),
            None => Ok(()),
        },
        _ => Err(invalid(
            "this route takes no request body (send none, or {}); a dry run is the query parameter ?dry_run=true",
        )),
    }
}

/// What one stream lost (or would lose).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StreamReport {
    pub stream: String,
    pub count: u64,
    pub first_sequence: Option<Sequence>,
    pub last_sequence: Option<Sequence>,
}

impl StreamReport {
    pub(crate) fn new(stream: String, report: PurgeReport) -> Self {
        Self {
            stream,
            count: report.count,
            first_sequence: report.first_sequence,
            last_sequence: report.last_sequence,
        }
    }
}

/// One id of a bulk request that could not be deleted.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ItemFailure {
    pub id: String,
    pub code: &'static str,
    pub message: String,
}

/// A successful admin answer: the envelope first, additions after, absent ones left out.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct AdminAnswer {
    pub success: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    pub request_id: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_sequence: Option<Sequence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sequence: Option<Sequence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<Vec<StreamReport>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub successful: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<Vec<ItemFailure>>,
}

impl AdminAnswer {
    pub(crate) fn ok(message: impl Into<String>, request_id: &str) -> Self {
        Self {
            success: true,
            message: message.into(),
            request_id: request_id.to_owned(),
            ..Self::default()
        }
    }

    /// Adds what one stream lost.
    pub(crate) fn with_report(mut self, stream: String, report: PurgeReport) -> Self {
        self.stream = Some(stream);
        self.count = Some(report.count);
        self.first_sequence = report.first_sequence;
        self.last_sequence = report.last_sequence;
        self
    }
}

/// The request is not one the route takes; `message` says why.
pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    AdminError::Invalid(message.into()).into()
}

/// What the request names does not exist.
pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
    AdminError::NotFound(message.into()).into()
}

/// A store failure while trying to `action`.
pub(crate) fn store_failure(action: &'static str, error: StoreError) -> ApiError {
    AdminError::Store { action, error }.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(error: ApiError) -> String {
        error.to_string()
    }

    #[test]
    fn dry_run_accepts_true_false_or_nothing() {
        for (query, expected) in [
            (None, false),
            (Some(""), false),
            (Some("dry_run=false"), false),
            (Some("dry_run=true"), true),
        ] {
            assert_eq!(DryRun::parse(query).check().unwrap(), expected, "{query:?}");
        }
    }

    #[test]
    fn misspelled_dry_runs_are_refused_with_a_hint() {
        for query in [
            "DRY_RUN=true",
            "dryrun=true",
            "dry-run=true",
            "Dry_Run=true",
        ] {
            let dry = DryRun::parse(Some(query));
            assert!(!dry.requested());
            let text = message(dry.check().unwrap_err());
            assert!(text.contains("did you mean dry_run?"), "{text}");
            assert!(text.contains("dry_run=true|false"), "{text}");
        }
        let text = message(DryRun::parse(Some("force=1")).check().unwrap_err());
        assert_eq!(
            text,
            "unknown query parameter 'force'; the only accepted one is dry_run=true|false"
        );
    }

    #[test]
    fn dry_run_refuses_other_values_and_repeats() {
        for query in [
            "dry_run=yes",
            "dry_run=1",
            "dry_run=TRUE",
            "dry_run",
            "dry_run=true&dry_run=true",
        ] {
            assert!(DryRun::parse(Some(query)).check().is_err(), "{query}");
        }
    }

    #[test]
    fn unknown_body_fields_are_named_with_the_accepted_ones() {
        let text = message(
            refuse_unknown_fields(
                br#"{"stream_name":"mars","dry_run":true}"#,
                &["stream_name"],
            )
            .unwrap_err(),
        );
        assert_eq!(
            text,
            "unknown field 'dry_run' in the request body; accepted fields: stream_name (a dry run is the query parameter ?dry_run=true)"
        );
        assert!(refuse_unknown_fields(br#"{"stream_name":"mars"}"#, &["stream_name"]).is_ok());
        assert!(
            refuse_unknown_fields(b"{", &["stream_name"]).is_ok(),
            "left to the typed parse"
        );
    }

    #[test]
    fn bodyless_routes_take_nothing_whitespace_or_an_empty_object() {
        for body in [&b""[..], b"  \n", b"{}", b" { } "] {
            assert!(refuse_body(body).is_ok(), "{body:?}");
        }
        for body in [&br#"{"dry_run":true}"#[..], b"dry_run=true", b"null", b"[]"] {
            assert!(refuse_body(body).is_err(), "{body:?}");
        }
    }
}
