//! Reading a destination request (create or patch) into [`Settings`], every rule of
//! DELIVERY.md §3 checked, each failure naming its field (`subscriptions[0].identifier.step`).
//! The address rules need DNS and run after this, in [`super::address`].

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::destination::{Format, Ordering, Settings, Subscription};
use crate::ops::stream::{SelectError, select};
use crate::schema::{Catalog, Operation, Rejection};
use crate::settings::DeliverySettings;

/// The fields a destination request may carry.
pub const FIELDS: [&str; 9] = [
    "url",
    "subscriptions",
    "name",
    "headers",
    "timeout",
    "retry",
    "ordering",
    "format",
    "secret",
];

const MAX_URL: usize = 2048;
const MAX_SUBSCRIPTIONS: usize = 100;
const MAX_NAME: usize = 200;
const MAX_HEADERS: usize = 20;
const MAX_DELAYS: usize = 20;
const TIMEOUTS: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(60));
const DELAYS: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(86_400));

/// Why a destination request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Invalid {
    /// 400 `INVALID_DESTINATION`.
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
    /// 400 `UNKNOWN_EVENT_TYPE`.
    #[error("unknown event type '{name}'")]
    UnknownEventType {
        name: String,
        configured: Vec<String>,
    },
}

fn field(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid::Field {
        field: field.into(),
        reason: reason.into(),
    }
}

/// What a destination takes when the request leaves a setting out.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub timeout: Duration,
    pub schedule: Vec<Duration>,
}

impl From<&DeliverySettings> for Defaults {
    fn from(settings: &DeliverySettings) -> Self {
        Self {
            timeout: settings.default_timeout,
            schedule: settings.default_schedule.clone(),
        }
    }
}

/// Reads a create request (`base` `None`) or a patch of `base`.
pub fn settings(
    body: &Value,
    base: Option<&Settings>,
    catalog: &Catalog,
    defaults: &Defaults,
) -> Result<Settings, Invalid> {
    let Value::Object(fields) = body else {
        return Err(field("body", "must be a JSON object"));
    };
    if let Some(unknown) = fields.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return Err(field(
            unknown.clone(),
            format!("unknown field; accepted fields: {}", FIELDS.join(", ")),
        ));
    }
    if fields.contains_key("secret") {
        return Err(field(
            "secret",
            "secrets are made by the server (see rotate-secret)",
        ));
    }
    let required = |name: &str| -> Result<&Value, Invalid> {
        fields
            .get(name)
            .filter(|value| !value.is_null())
            .ok_or_else(|| field(name, "is required"))
    };
    let url = match (fields.get("url"), base) {
        (None, Some(base)) => base.url.clone(),
        _ => url(required("url")?)?,
    };
    let subscriptions = match (fields.get("subscriptions"), base) {
        (None, Some(base)) => base.subscriptions.clone(),
        _ => subscriptions(required("subscriptions")?, catalog)?,
    };
    let keep = |name: &str| fields.get(name).is_none() && base.is_some();
    let base_or_default = base.cloned();
    Ok(Settings {
        url,
        subscriptions,
        name: match fields.get("name") {
            None => base_or_default.as_ref().and_then(|base| base.name.clone()),
            Some(value) => name(value)?,
        },
        headers: match fields.get("headers") {
            None => base_or_default
                .as_ref()
                .map(|base| base.headers.clone())
                .unwrap_or_default(),
            Some(value) => headers(value)?,
        },
        timeout: match (fields.get("timeout"), &base_or_default) {
            (None, Some(base)) => base.timeout,
            (None, None) => defaults.timeout,
            (Some(value), _) => bounded_duration("timeout", value, TIMEOUTS)?,
        },
        schedule: match (fields.get("retry"), &base_or_default) {
            (None, Some(base)) => base.schedule.clone(),
            (None, None) => defaults.schedule.clone(),
            (Some(value), _) => schedule(value)?,
        },
        ordering: if keep("ordering") {
            base_or_default
                .as_ref()
                .map_or(Ordering::Unordered, |base| base.ordering)
        } else {
            choice("ordering", fields.get("ordering"), Ordering::Unordered)?
        },
        format: if keep("format") {
            base_or_default
                .as_ref()
                .map_or(Format::Structured, |base| base.format)
        } else {
            choice("format", fields.get("format"), Format::Structured)?
        },
    })
}

fn text<'a>(name: &str, value: &'a Value) -> Result<&'a str, Invalid> {
    value
        .as_str()
        .ok_or_else(|| field(name, "must be a string"))
}

fn url(value: &Value) -> Result<String, Invalid> {
    let raw = text("url", value)?;
    if raw.chars().count() > MAX_URL {
        return Err(field("url", format!("longer than {MAX_URL} characters")));
    }
    let parsed =
        reqwest::Url::parse(raw).map_err(|error| field("url", format!("not a URL: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(field("url", "the scheme must be http or https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(field("url", "must not carry a user name or password"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(field("url", "has no host"));
    }
    Ok(raw.to_owned())
}

fn subscriptions(value: &Value, catalog: &Catalog) -> Result<Vec<Subscription>, Invalid> {
    let list = value
        .as_array()
        .ok_or_else(|| field("subscriptions", "must be an array"))?;
    if list.is_empty() || list.len() > MAX_SUBSCRIPTIONS {
        return Err(field(
            "subscriptions",
            format!("must hold 1 to {MAX_SUBSCRIPTIONS} subscriptions"),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(index, item)| subscription(index, item, catalog))
        .collect()
}

fn subscription(index: usize, item: &Value, catalog: &Catalog) -> Result<Subscription, Invalid> {
    let at = |name: &str| format!("subscriptions[{index}].{name}");
    let Value::Object(fields) = item else {
        return Err(field(
            format!("subscriptions[{index}]"),
            "must be an object",
        ));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !["event_type", "identifier"].contains(&key.as_str()))
    {
        return Err(field(
            at(unknown),
            "unknown field; accepted fields: event_type, identifier",
        ));
    }
    let name = text(
        &at("event_type"),
        fields.get("event_type").unwrap_or(&Value::Null),
    )?;
    let schema = catalog
        .event_type(name)
        .ok_or_else(|| Invalid::UnknownEventType {
            name: name.to_owned(),
            configured: catalog.event_type_names(),
        })?;
    let identifier = match fields.get("identifier") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(identifier)) => identifier.clone(),
        Some(_) => return Err(field(at("identifier"), "must be an object")),
    };
    select(schema, &identifier, Operation::Watch).map_err(|error| {
        let path = match &error {
            SelectError::Invalid(rejection) => rejection_key(rejection)
                .map_or_else(|| at("identifier"), |key| at(&format!("identifier.{key}"))),
            SelectError::Subject(_) => at("identifier"),
        };
        field(path, error.to_string())
    })?;
    Ok(Subscription {
        event_type: schema.event_type.to_string(),
        identifier,
    })
}

/// The identifier key a rejection is about, when it names one.
fn rejection_key(rejection: &Rejection) -> Option<&str> {
    match rejection {
        Rejection::MissingKey { key, .. }
        | Rejection::UnknownKey { key, .. }
        | Rejection::ConstraintOnNotify { key }
        | Rejection::Null { key }
        | Rejection::Array { key } => Some(key),
        _ => None,
    }
}

fn name(value: &Value) -> Result<Option<String>, Invalid> {
    if value.is_null() {
        return Ok(None);
    }
    let name = text("name", value)?;
    if name.chars().count() > MAX_NAME {
        return Err(field("name", format!("longer than {MAX_NAME} characters")));
    }
    Ok(Some(name.to_owned()))
}

/// Headers a destination may not set: the transport's and the signature's own.
fn reserved_header(name: &str) -> bool {
    matches!(
        name,
        "host" | "content-length" | "content-type" | "transfer-encoding" | "connection"
    ) || name.starts_with("webhook-")
        || name.starts_with("ce-")
}

fn headers(value: &Value) -> Result<BTreeMap<String, String>, Invalid> {
    if value.is_null() {
        return Ok(BTreeMap::new());
    }
    let Value::Object(entries) = value else {
        return Err(field("headers", "must be an object of strings"));
    };
    if entries.len() > MAX_HEADERS {
        return Err(field("headers", format!("at most {MAX_HEADERS} headers")));
    }
    let mut headers = BTreeMap::new();
    for (name, value) in entries {
        let at = format!("headers.{name}");
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| field(&at, "is not a valid header name"))?;
        if reserved_header(parsed.as_str()) {
            return Err(field(&at, "is set by Tidings and cannot be configured"));
        }
        let text = text(&at, value)?;
        if text.contains(['\r', '\n']) || HeaderValue::from_str(text).is_err() {
            return Err(field(&at, "is not a valid header value"));
        }
        headers.insert(name.clone(), text.to_owned());
    }
    Ok(headers)
}

fn bounded_duration(
    name: &str,
    value: &Value,
    (low, high): (Duration, Duration),
) -> Result<Duration, Invalid> {
    let raw = text(name, value)?;
    let duration = humantime::parse_duration(raw).map_err(|_| {
        field(
            name,
            format!("'{raw}' is not a duration such as 15s, 200ms or 2h"),
        )
    })?;
    if duration < low || duration > high {
        return Err(field(
            name,
            format!(
                "must be from {} to {}",
                super::destination::duration_text(low),
                super::destination::duration_text(high)
            ),
        ));
    }
    Ok(duration)
}

fn schedule(value: &Value) -> Result<Vec<Duration>, Invalid> {
    let Value::Object(retry) = value else {
        return Err(field("retry", "must be an object with a schedule"));
    };
    if let Some(unknown) = retry.keys().find(|key| key.as_str() != "schedule") {
        return Err(field(
            format!("retry.{unknown}"),
            "unknown field; accepted fields: schedule",
        ));
    }
    let delays = retry
        .get("schedule")
        .and_then(Value::as_array)
        .ok_or_else(|| field("retry.schedule", "must be an array of durations"))?;
    if delays.len() > MAX_DELAYS {
        return Err(field(
            "retry.schedule",
            format!("at most {MAX_DELAYS} delays"),
        ));
    }
    delays
        .iter()
        .enumerate()
        .map(|(index, delay)| bounded_duration(&format!("retry.schedule[{index}]"), delay, DELAYS))
        .collect()
}

fn choice<T: serde::de::DeserializeOwned>(
    name: &str,
    value: Option<&Value>,
    default: T,
) -> Result<T, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(value) => serde_json::from_value(value.clone()).map_err(|_| {
            let accepted = if name == "ordering" {
                "unordered or ordered"
            } else {
                "structured or binary"
            };
            field(name, format!("must be {accepted}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(body: Value) -> Result<Settings, Invalid> {
        let catalog = Catalog::load(&[]).unwrap();
        settings(
            &body,
            None,
            &catalog,
            &Defaults::from(&DeliverySettings::default()),
        )
    }

    fn refused_field(body: Value) -> String {
        match read(body).unwrap_err() {
            Invalid::Field { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_minimal_destination_takes_the_defaults() {
        let settings = read(json!({"url": "https://hooks.example.org/x", "subscriptions": [{"event_type": "mars", "identifier": {"class": "od"}}]})).unwrap();
        assert_eq!(settings.timeout, Duration::from_secs(15));
        assert_eq!(settings.schedule.len(), 7);
        assert_eq!(settings.ordering, Ordering::Unordered);
        assert_eq!(settings.format, Format::Structured);
        assert!(settings.headers.is_empty() && settings.name.is_none());
    }

    #[test]
    fn every_refusal_names_its_field() {
        let sub = json!([{"event_type": "mars", "identifier": {"class": "od"}}]);
        for (body, expected) in [
            (json!({"subscriptions": sub}), "url"),
            (json!({"url": "ftp://x.org/", "subscriptions": sub}), "url"),
            (
                json!({"url": "https://u:p@x.org/", "subscriptions": sub}),
                "url",
            ),
            (
                json!({"url": "https://x.org/", "subscriptions": []}),
                "subscriptions",
            ),
            (
                json!({"url": "https://x.org/", "subscriptions": [{"event_type": "mars", "identifier": {"class": "od", "step": {"near": 1}}}]}),
                "subscriptions[0].identifier",
            ),
            (
                json!({"url": "https://x.org/", "subscriptions": [{"event_type": "mars", "identifier": {}}]}),
                "subscriptions[0].identifier.class",
            ),
            (
                json!({"url": "https://x.org/", "subscriptions": sub, "headers": {"Webhook-Id": "x"}}),
                "headers.Webhook-Id",
            ),
            (
                json!({"url": "https://x.org/", "subscriptions": sub, "headers": {"X-A": "a\r\nb"}}),
                "headers.X-A",
            ),
            (
                json!({"url": "https://x.org/", "subscriptions": sub, "timeout": "61s"}),
                "timeout",
            ),
            (
                json!({"url": "https://x.org/", "subscriptions": sub, "retry": {"schedule": ["50ms"]}}),
                "retry.schedule[0]",
            ),
            (
                json!({"url": "https://x.org/", "subscriptions": sub, "ordering": "fifo"}),
                "ordering",
            ),
            (
                json!({"url": "https://x.org/", "subscriptions": sub, "colour": "red"}),
                "colour",
            ),
        ] {
            assert_eq!(refused_field(body.clone()), expected, "{body}");
        }
        assert!(matches!(
            read(json!({"url": "https://x.org/", "subscriptions": [{"event_type": "nope"}]})),
            Err(Invalid::UnknownEventType { .. })
        ));
    }

    #[test]
    fn a_patch_keeps_what_it_does_not_name() {
        let catalog = Catalog::load(&[]).unwrap();
        let defaults = Defaults::from(&DeliverySettings::default());
        let base = settings(&json!({"url": "https://x.org/", "subscriptions": [{"event_type": "mars", "identifier": {"class": "od"}}], "name": "a", "timeout": "5s", "format": "binary"}), None, &catalog, &defaults).unwrap();
        let patched = settings(&json!({"name": "b"}), Some(&base), &catalog, &defaults).unwrap();
        assert_eq!(patched.name.as_deref(), Some("b"));
        assert_eq!(
            (patched.timeout, patched.format, &patched.url),
            (base.timeout, base.format, &base.url)
        );
    }
}
