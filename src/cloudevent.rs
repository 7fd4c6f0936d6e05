//! A stored notification as the CloudEvent clients receive, built with cloudevents-sdk:
//! id `<event_type>@<seq>`, type `<prefix><event_type>`, source the base URL, dataschema
//! the schema endpoint, data `{"identifier": ..., "payload": ...}`, keys sorted.
//!
//! Every CloudEvent the gateway hands out is made here: watch and replay frames, browse
//! pages, single notifications and audit records (and, next, webhook deliveries), so they
//! cannot drift apart.

use std::io::Write;

use bytes::Bytes;
use cloudevents::{EventBuilder, EventBuilderV10};
use serde_json::{Value, json};

use crate::domain::{EventId, Sequence};
use crate::schema::EventSchema;
use crate::store::StoredMessage;

/// What every CloudEvent of this gateway shares.
#[derive(Debug, Clone)]
pub struct CloudEventSettings {
    pub base_url: String,
    pub type_prefix: String,
}

/// Why a stored message could not be rendered (it is then skipped with an `error` frame).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CloudEvent creation failed for sequence {sequence}: {reason}")]
pub struct RenderError {
    pub sequence: u64,
    pub reason: String,
}

/// `<event_type>@<seq>`: the CloudEvent id and SSE `id:`.
pub fn event_id(schema: &EventSchema, sequence: Sequence) -> String {
    EventId::new(schema.event_type.as_str(), sequence).to_string()
}

fn payload(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// [`render`], once per message: later callers share the first rendering.
pub fn render_shared(
    schema: &EventSchema,
    message: &StoredMessage,
    settings: &CloudEventSettings,
) -> Result<Bytes, RenderError> {
    if let Some(rendered) = message.rendition.get() {
        return Ok(rendered.clone());
    }
    let rendered = render_fast(schema, message, settings)?;
    Ok(message.rendition.get_or_init(|| rendered).clone())
}

/// The canonical identifier, rebuilt from the subject (and the polygon header).
fn identifier_of(
    schema: &EventSchema,
    message: &StoredMessage,
) -> Result<crate::domain::CanonicalIdentifier, RenderError> {
    let values = message
        .subject
        .decode_values(schema.key_order.len())
        .map_err(|error| RenderError {
            sequence: message.sequence.get(),
            reason: error.to_string(),
        })?;
    Ok(schema.identifier_from_values(values, message.polygon()))
}

/// [`render`] written directly, without a JSON tree: the hot path of replays and fan-out.
/// The bytes are the same as the SDK's (a test holds them equal) except that a compact JSON
/// payload is embedded as stored rather than re-sorted; Tidings stores payloads already in
/// canonical (sorted, compact) form. It writes into one buffer sized up front, with no
/// intermediate strings: at replay rates every allocation per message shows.
pub fn render_fast(
    schema: &EventSchema,
    message: &StoredMessage,
    settings: &CloudEventSettings,
) -> Result<Bytes, RenderError> {
    let base = settings.base_url.trim_end_matches('/');
    let payload = &message.payload;
    let mut out = Vec::with_capacity(payload.len() + message.subject.as_str().len() * 2 + 384);
    out.extend_from_slice(b"{\"data\":{\"identifier\":");
    write_identifier(&mut out, schema, message)?;
    out.extend_from_slice(b",\"payload\":");
    if payload.is_empty() {
        out.extend_from_slice(b"null");
    } else if !payload
        .iter()
        .any(|byte| matches!(byte, b'\n' | b'\r' | b' '))
        && serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_ok()
    {
        out.extend_from_slice(payload);
    } else {
        let value = self::payload(payload);
        serde_json::to_writer(&mut out, &value).map_err(|error| RenderError {
            sequence: message.sequence.get(),
            reason: error.to_string(),
        })?;
    }
    out.extend_from_slice(b"},\"datacontenttype\":\"application/json\",\"dataschema\":\"");
    escape_into(&mut out, base);
    out.extend_from_slice(b"/api/v1/schema/");
    escape_into(&mut out, schema.event_type.as_str());
    out.extend_from_slice(b"\",\"id\":\"");
    escape_into(&mut out, schema.event_type.as_str());
    // Writing to a Vec cannot fail.
    let _ = write!(out, "@{}", message.sequence);
    out.extend_from_slice(b"\",\"source\":\"");
    escape_into(&mut out, base);
    out.extend_from_slice(b"\",\"specversion\":\"1.0\",\"time\":\"");
    // chrono's own RFC 3339 writer: a `format` string would be parsed again per message.
    let time = message
        .time
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    out.extend_from_slice(time.as_bytes());
    out.extend_from_slice(b"\",\"type\":\"");
    escape_into(&mut out, &settings.type_prefix);
    escape_into(&mut out, schema.event_type.as_str());
    out.extend_from_slice(b"\"}");
    Ok(Bytes::from(out))
}

/// `data.identifier` straight from the subject: the values decoded in place (borrowed when
/// they hold no escape), written in key order as a JSON object, the polygon among them.
fn write_identifier(
    out: &mut Vec<u8>,
    schema: &EventSchema,
    message: &StoredMessage,
) -> Result<(), RenderError> {
    let failed = |reason: String| RenderError {
        sequence: message.sequence.get(),
        reason,
    };
    let values = message
        .subject
        .decode_values_borrowed(schema.key_order.len())
        .map_err(|error| failed(error.to_string()))?;
    let polygon = schema
        .spatial_key()
        .and_then(|key| message.polygon().map(|polygon| (key, polygon)));
    let mut entries: Vec<(&str, Option<std::borrow::Cow<'_, str>>)> =
        Vec::with_capacity(values.len() + 1);
    entries.extend(
        schema
            .key_order
            .iter()
            .map(String::as_str)
            .zip(values.into_iter().map(Some)),
    );
    if let Some((key, _)) = &polygon {
        entries.push((key, None));
    }
    entries.sort_unstable_by(|left, right| left.0.cmp(right.0));
    out.push(b'{');
    for (index, (key, value)) in entries.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.push(b'"');
        escape_into(out, key);
        out.extend_from_slice(b"\":");
        match (value, &polygon) {
            (Some(value), _) => {
                out.push(b'"');
                escape_into(out, value);
                out.push(b'"');
            }
            (None, Some((_, polygon))) => serde_json::to_writer(&mut *out, &polygon.to_json())
                .map_err(|error| failed(error.to_string()))?,
            (None, None) => out.extend_from_slice(b"null"),
        }
    }
    out.push(b'}');
    Ok(())
}

/// The contents of a JSON string for `text`, escaped exactly as `serde_json` escapes it
/// (the short escapes `\b \f \n \r \t`, `\u00XX` for the other control characters).
fn escape_into(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..index]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Renders `message` (already known to belong to `schema`'s stream) as compact JSON.
pub fn render(
    schema: &EventSchema,
    message: &StoredMessage,
    settings: &CloudEventSettings,
) -> Result<Bytes, RenderError> {
    let fail = |reason: String| RenderError {
        sequence: message.sequence.get(),
        reason,
    };
    let identifier = identifier_of(schema, message)?;
    let base = settings.base_url.trim_end_matches('/');
    let event = EventBuilderV10::new()
        .id(event_id(schema, message.sequence))
        .ty(format!("{}{}", settings.type_prefix, schema.event_type))
        .source(base)
        .time(message.time)
        .data_with_schema(
            "application/json",
            format!("{base}/api/v1/schema/{}", schema.event_type),
            json!({"identifier": identifier.to_json(), "payload": payload(&message.payload)}),
        )
        .build()
        .map_err(|error| fail(error.to_string()))?;
    let value = serde_json::to_value(&event).map_err(|error| fail(error.to_string()))?;
    Ok(Bytes::from(value.to_string()))
}

/// An audit record as a CloudEvent: id `audit@<seq>`, type `tidings.audit.<operation>`,
/// data the record as stored. `None` for a record that is not JSON (never written so).
pub fn render_audit(message: &StoredMessage, settings: &CloudEventSettings) -> Option<Bytes> {
    let data: Value = serde_json::from_slice(&message.payload).ok()?;
    let operation = data
        .get("operation")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let event = EventBuilderV10::new()
        .id(EventId::new(AUDIT_NAME, message.sequence).to_string())
        .ty(format!("{AUDIT_TYPE_PREFIX}{operation}"))
        .source(settings.base_url.trim_end_matches('/'))
        .time(message.time)
        .data("application/json", data)
        .build()
        .ok()?;
    serde_json::to_value(&event)
        .ok()
        .map(|value| Bytes::from(value.to_string()))
}

/// A destination's test event (`POST /api/v1/destinations/{id}/test`): type
/// `<prefix>tidings.test`, data naming the destination. `id` is made by the caller, unique
/// per send, so a receiver's de-duplication by `webhook-id` never swallows a test.
pub fn render_test(
    id: &str,
    destination_id: &str,
    time: chrono::DateTime<chrono::Utc>,
    settings: &CloudEventSettings,
) -> Option<Bytes> {
    let event = EventBuilderV10::new()
        .id(id)
        .ty(format!("{}tidings.test", settings.type_prefix))
        .source(settings.base_url.trim_end_matches('/'))
        .time(time)
        .data(
            "application/json",
            json!({"destination_id": destination_id, "message": "Tidings test event"}),
        )
        .build()
        .ok()?;
    serde_json::to_value(&event)
        .ok()
        .map(|value| Bytes::from(value.to_string()))
}

/// The name audit record ids carry before their `@`.
const AUDIT_NAME: &str = "audit";
/// Audit record types: `tidings.audit.<operation>`.
const AUDIT_TYPE_PREFIX: &str = "tidings.audit.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sequence;
    use crate::schema::Catalog;
    use crate::subject::Subject;

    #[test]
    fn renders_aviso_shaped_cloudevents() {
        let catalog = Catalog::load(&[]).unwrap();
        let schema = catalog.event_type("dissemination").unwrap();
        let message = StoredMessage {
            sequence: Sequence::new(7).unwrap(),
            time: chrono::DateTime::parse_from_rfc3339("2026-11-22T05:37:08.406020562Z")
                .unwrap()
                .into(),
            subject: Subject::build(
                "diss",
                [
                    "FOO", "t1", "od", "0001", "g", "20250706", "1200", "enfo", "6",
                ],
            )
            .unwrap(),
            headers: Vec::new(),
            payload: Bytes::from_static(br#"{"url":"x"}"#),
            rendition: Default::default(),
            live_frame: Default::default(),
        };
        let settings = CloudEventSettings {
            base_url: "http://localhost:8000".to_owned(),
            type_prefix: "int.ecmwf.aviso.".to_owned(),
        };
        let rendered =
            String::from_utf8(render(schema, &message, &settings).unwrap().to_vec()).unwrap();
        assert_eq!(
            rendered,
            concat!(
                r#"{"data":{"identifier":{"class":"od","date":"20250706","destination":"FOO","domain":"g","expver":"0001","step":"6","stream":"enfo","target":"t1","time":"1200"},"payload":{"url":"x"}},"#,
                r#""datacontenttype":"application/json","dataschema":"http://localhost:8000/api/v1/schema/dissemination","#,
                r#""id":"dissemination@7","source":"http://localhost:8000","specversion":"1.0","#,
                r#""time":"2026-11-22T05:37:08.406020562Z","type":"int.ecmwf.aviso.dissemination"}"#
            )
        );
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut every: String = (0u8..=127).map(char::from).collect();
        every.push_str("é\u{2028}😀");
        let mut out = Vec::new();
        escape_into(&mut out, &every);
        let expected = serde_json::to_string(&every).unwrap();
        assert_eq!(format!("\"{}\"", String::from_utf8(out).unwrap()), expected);
    }

    #[test]
    fn the_fast_path_renders_the_same_bytes_as_the_sdk() {
        let catalog = Catalog::load(&[]).unwrap();
        let settings = CloudEventSettings {
            base_url: "http://127.0.0.1:8000/".to_owned(),
            type_prefix: "t.".to_owned(),
        };
        let mars = catalog.event_type("mars").unwrap();
        let polygon = catalog.event_type("test_polygon").unwrap();
        let payloads: [&[u8]; 6] = [
            b"null",
            b"",
            br#"{"b":1,"a":"\u00e9\"q"}"#,
            b"not json",
            br#"{"a": 1}"#,
            b"[1,2]",
        ];
        for (index, payload) in payloads.iter().enumerate() {
            let message = StoredMessage {
                sequence: Sequence::new(index as u64 + 1).unwrap(),
                time: chrono::DateTime::from_timestamp(
                    1_700_000_000 + index as i64,
                    120_000_000 * index as u32,
                )
                .unwrap(),
                subject: Subject::build(
                    "mars",
                    ["o\"d", "0001", "g", "20250706", "1200", "a.b", "1"],
                )
                .unwrap(),
                headers: Vec::new(),
                payload: Bytes::copy_from_slice(payload),
                rendition: Default::default(),
                live_frame: Default::default(),
            };
            let fast = render_fast(mars, &message, &settings).unwrap();
            let sdk = render(mars, &message, &settings).unwrap();
            let parse = |bytes: &Bytes| serde_json::from_slice::<serde_json::Value>(bytes).unwrap();
            assert_eq!(parse(&fast), parse(&sdk), "{payload:?}");
            // A payload stored compact is passed through as stored (aviso 0.13 does not reshape
            // payloads either); what Tidings stores is already in canonical order.
            let canonical = serde_json::from_slice::<serde_json::Value>(payload)
                .is_ok_and(|value| value.to_string().as_bytes() == *payload);
            if canonical || payload.is_empty() {
                assert_eq!(fast, sdk, "{payload:?}");
            }
        }
        let shape = crate::domain::Polygon::from_checked(vec![
            (1.0, 2.0),
            (3.0, 4.0),
            (5.0, 2.0),
            (1.0, 2.0),
        ]);
        let publication = crate::store::Publication {
            stream: polygon.stream.clone(),
            subject: Subject::build("polygon", ["20250706", "1200"]).unwrap(),
            headers: Vec::new(),
            payload: Bytes::from_static(b"{}"),
            idempotency_key: None,
        }
        .with_polygon(&shape);
        let message = StoredMessage {
            sequence: Sequence::new(9).unwrap(),
            time: chrono::Utc::now(),
            subject: publication.subject,
            headers: publication.headers,
            payload: publication.payload,
            rendition: Default::default(),
            live_frame: Default::default(),
        };
        assert_eq!(
            render_fast(polygon, &message, &settings).unwrap(),
            render(polygon, &message, &settings).unwrap()
        );
    }
}
