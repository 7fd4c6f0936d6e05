//! `from_id`/`from_date`/`to_id`/`to_date`: parsing and the rules between them, with
//! aviso's messages.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::body::RequestBody;
use super::error::Endpoint;
use crate::domain::{End, Sequence, Start};

/// The validated cursors of a watch or replay request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursors {
    pub from: Option<Start>,
    pub to: Option<End>,
}

/// Why a date or timestamp was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    #[error("failed to parse unix timestamp '{raw}': {source}")]
    Unix {
        raw: String,
        source: std::num::ParseIntError,
    },
    #[error("invalid unix seconds timestamp '{0}'")]
    Seconds(String),
    #[error("invalid unix milliseconds timestamp '{0}'")]
    Milliseconds(String),
    #[error("negative unix timestamps are not supported: '{0}'")]
    Negative(String),
    #[error(
        "expected ISO-8601 datetime (RFC3339/space-separated with optional timezone) or unix epoch seconds/milliseconds"
    )]
    Unrecognised,
}

/// Why the cursors of a watch or replay were refused; messages are aviso's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("{field} cannot be empty. Provide a valid sequence number or omit the field")]
    EmptySequence { field: &'static str },
    #[error(
        "{field} must be a valid positive integer. Got: '{raw}'. Valid examples: '1', '123', '9999'"
    )]
    NotASequence { field: &'static str, raw: String },
    #[error("{field} cannot be empty. Provide a valid datetime/timestamp or omit the field")]
    EmptyInstant { field: &'static str },
    #[error(
        "{field} must be a valid datetime/timestamp. Got: '{raw}'. Error: {source}. Valid examples: '2025-06-09T13:15:00Z', '2025-06-09 13:15:00+00:00', '2025-06-09 13:15:00', '1740509903', '1740509903710'"
    )]
    NotAnInstant {
        field: &'static str,
        raw: String,
        source: InstantError,
    },
    #[error(
        "Cannot specify both from_id and from_date. Please provide only one replay parameter. Use from_id for sequence-based replay or from_date for time-based replay."
    )]
    TwoStarts,
    #[error(
        "Cannot specify both to_id and to_date. Please provide only one replay end parameter. Use to_id for a sequence-based end or to_date for a time-based end."
    )]
    TwoEnds,
    #[error("to_id and to_date are only supported for the replay endpoint, not {path}")]
    EndOutsideReplay { path: &'static str },
    #[error(
        "Replay endpoint requires either from_id or from_date parameter. Use from_id for sequence-based replay or from_date for time-based replay."
    )]
    ReplayWithoutStart,
    #[error("to_id ({to}) must not be lower than from_id ({from})")]
    EndIdBeforeStart { to: u64, from: Sequence },
    #[error("to_date ({}) must not be earlier than from_date ({})", .to.to_rfc3339(), .from.to_rfc3339())]
    EndDateBeforeStart {
        to: DateTime<Utc>,
        from: DateTime<Utc>,
    },
}

fn sequence(field: &'static str, raw: &str) -> Result<u64, CursorError> {
    if raw.trim().is_empty() {
        return Err(CursorError::EmptySequence { field });
    }
    raw.parse().map_err(|_| CursorError::NotASequence {
        field,
        raw: raw.to_owned(),
    })
}

fn unix(digits: &str, original: &str) -> Result<DateTime<Utc>, InstantError> {
    let significant = digits.trim_start_matches('0').len();
    let value: i64 = digits.parse().map_err(|source| InstantError::Unix {
        raw: original.to_owned(),
        source,
    })?;
    if significant <= 11 {
        DateTime::from_timestamp(value, 0).ok_or_else(|| InstantError::Seconds(original.into()))
    } else {
        DateTime::from_timestamp_millis(value)
            .ok_or_else(|| InstantError::Milliseconds(original.into()))
    }
}

/// RFC 3339, `YYYY-MM-DD HH:MM:SS[.f]±HH:MM`, naive date-times (UTC), unix seconds or
/// milliseconds (12 or more significant digits).
pub fn parse_instant(raw: &str) -> Result<DateTime<Utc>, InstantError> {
    let trimmed = raw.trim();
    let unsigned = trimmed.strip_prefix('+').unwrap_or(trimmed);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return unix(unsigned, trimmed);
    }
    if let Some(rest) = trimmed.strip_prefix('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(InstantError::Negative(trimmed.to_owned()));
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(time.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(time) = DateTime::parse_from_str(trimmed, format) {
            return Ok(time.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Ok(time.and_utc());
        }
    }
    Err(InstantError::Unrecognised)
}

fn instant(field: &'static str, raw: &str) -> Result<DateTime<Utc>, CursorError> {
    if raw.trim().is_empty() {
        return Err(CursorError::EmptyInstant { field });
    }
    parse_instant(raw).map_err(|source| CursorError::NotAnInstant {
        field,
        raw: raw.to_owned(),
        source,
    })
}

/// `from_id`/`from_date`, or where a `Last-Event-ID` resumes (which replaces both).
fn start(body: &RequestBody, resume: Option<Start>) -> Result<Option<Start>, CursorError> {
    if resume.is_some() {
        return Ok(resume);
    }
    let from_id = body
        .from_id
        .as_deref()
        .map(|raw| sequence("from_id", raw))
        .transpose()?;
    let from_date = body
        .from_date
        .as_deref()
        .map(|raw| instant("from_date", raw))
        .transpose()?;
    match (from_id, from_date) {
        (Some(_), Some(_)) => Err(CursorError::TwoStarts),
        (Some(id), None) => Ok(Some(Start::from_id(id))),
        (None, Some(date)) => Ok(Some(Start::Time(date))),
        (None, None) => Ok(None),
    }
}

/// `to_id`/`to_date`.
fn end(body: &RequestBody) -> Result<Option<End>, CursorError> {
    let to_id = body
        .to_id
        .as_deref()
        .map(|raw| sequence("to_id", raw))
        .transpose()?;
    let to_date = body
        .to_date
        .as_deref()
        .map(|raw| instant("to_date", raw))
        .transpose()?;
    match (to_id, to_date) {
        (Some(_), Some(_)) => Err(CursorError::TwoEnds),
        (Some(id), None) => Ok(Some(End::Sequence(id))),
        (None, Some(date)) => Ok(Some(End::Time(date))),
        (None, None) => Ok(None),
    }
}

/// Validates the cursors for `endpoint`. `resume` is where a `Last-Event-ID` continues:
/// it takes the place of `from_id`/`from_date`, which are then not read.
pub(crate) fn validate(
    body: &RequestBody,
    endpoint: Endpoint,
    resume: Option<Start>,
) -> Result<Cursors, CursorError> {
    let from = start(body, resume)?;
    if endpoint != Endpoint::Replay && (body.to_id.is_some() || body.to_date.is_some()) {
        return Err(CursorError::EndOutsideReplay {
            path: endpoint.path(),
        });
    }
    if endpoint == Endpoint::Replay && from.is_none() {
        return Err(CursorError::ReplayWithoutStart);
    }
    let to = end(body)?;
    match (from, to) {
        (Some(Start::Sequence(from)), Some(End::Sequence(to))) if to < from.get() => {
            Err(CursorError::EndIdBeforeStart { to, from })
        }
        (Some(Start::Time(from)), Some(End::Time(to))) if to < from => {
            Err(CursorError::EndDateBeforeStart { to, from })
        }
        _ => Ok(Cursors { from, to }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> RequestBody {
        serde_json::from_value(json).unwrap()
    }

    fn check(json: serde_json::Value, endpoint: Endpoint) -> Result<Cursors, String> {
        validate(&body(json), endpoint, None).map_err(|error| error.to_string())
    }

    #[test]
    fn parses_every_accepted_instant_form() {
        let expected = DateTime::parse_from_rfc3339("2025-06-09T13:15:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for raw in [
            "2025-06-09T13:15:00Z",
            "2025-06-09T15:15:00+02:00",
            "2025-06-09 13:15:00+00:00",
            "2025-06-09 13:15:00",
            "2025-06-09T13:15:00",
            "1749474900",
            "+1749474900",
            "1749474900000",
            " 2025-06-09T13:15:00Z ",
        ] {
            assert_eq!(parse_instant(raw), Ok(expected), "{raw}");
        }
        let fractional = parse_instant("2025-06-09T13:15:00.123456Z").unwrap();
        assert_eq!(fractional.timestamp_subsec_micros(), 123_456);
        assert!(parse_instant("2025-06-09").is_err());
        assert_eq!(
            parse_instant("-5").map_err(|error| error.to_string()),
            Err("negative unix timestamps are not supported: '-5'".to_owned())
        );
    }

    #[test]
    fn from_id_must_be_a_decimal_string() {
        let watch = |id: &str| {
            check(
                serde_json::json!({"event_type":"m","identifier":{},"from_id":id}),
                Endpoint::Watch,
            )
        };
        assert_eq!(watch("0").unwrap().from, Some(Start::Beginning));
        assert_eq!(watch("+5").unwrap().from, Some(Start::from_id(5)));
        assert_eq!(
            watch("mars@1").unwrap_err(),
            "from_id must be a valid positive integer. Got: 'mars@1'. Valid examples: '1', '123', '9999'"
        );
        assert_eq!(
            watch(" ").unwrap_err(),
            "from_id cannot be empty. Provide a valid sequence number or omit the field"
        );
    }

    #[test]
    fn a_resume_point_replaces_from_id_and_from_date_unread() {
        let after = Start::Sequence(Sequence::new(8).unwrap());
        let body = body(
            serde_json::json!({"event_type":"m","identifier":{},"from_id":"x","from_date":"y"}),
        );
        let cursors = validate(&body, Endpoint::Replay, Some(after)).unwrap();
        assert_eq!(cursors.from, Some(after));
    }

    #[test]
    fn start_and_end_rules_follow_aviso() {
        let both = serde_json::json!({"event_type":"m","identifier":{},"from_id":"1","from_date":"1749474900"});
        assert!(
            check(both, Endpoint::Replay)
                .unwrap_err()
                .starts_with("Cannot specify both from_id and from_date")
        );
        let none = serde_json::json!({"event_type":"m","identifier":{}});
        assert!(
            check(none.clone(), Endpoint::Replay)
                .unwrap_err()
                .starts_with("Replay endpoint requires")
        );
        assert_eq!(
            check(none, Endpoint::Watch).unwrap(),
            Cursors {
                from: None,
                to: None
            }
        );
        let end_on_watch = serde_json::json!({"event_type":"m","identifier":{},"to_id":"3"});
        assert_eq!(
            check(end_on_watch, Endpoint::Watch).unwrap_err(),
            "to_id and to_date are only supported for the replay endpoint, not /watch"
        );
        let backwards =
            serde_json::json!({"event_type":"m","identifier":{},"from_id":"5","to_id":"3"});
        assert_eq!(
            check(backwards, Endpoint::Replay).unwrap_err(),
            "to_id (3) must not be lower than from_id (5)"
        );
        let earlier = serde_json::json!({"event_type":"m","identifier":{},"from_date":"2026-01-02T00:00:00Z","to_date":"2026-01-01T00:00:00Z"});
        assert_eq!(
            check(earlier, Endpoint::Replay).unwrap_err(),
            "to_date (2026-01-01T00:00:00+00:00) must not be earlier than from_date (2026-01-02T00:00:00+00:00)"
        );
        let two_ends = serde_json::json!({"event_type":"m","identifier":{},"from_id":"1","to_id":"3","to_date":"1749474900"});
        assert!(
            check(two_ends, Endpoint::Replay)
                .unwrap_err()
                .starts_with("Cannot specify both to_id and to_date")
        );
    }
}
