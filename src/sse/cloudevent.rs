//! A stored notification as the CloudEvent clients receive, built with cloudevents-sdk:
//! id `<event_type>@<seq>`, type `<prefix><event_type>`, source the base URL, dataschema
//! the schema endpoint, data `{"identifier": ..., "payload": ...}`, keys sorted.

use bytes::Bytes;
use cloudevents::{EventBuilder, EventBuilderV10};
use serde_json::{Value, json};

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
pub fn event_id(schema: &EventSchema, sequence: u64) -> String {
    format!("{}@{sequence}", schema.event_type)
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
    let rendered = render(schema, message, settings)?;
    Ok(message.rendition.get_or_init(|| rendered).clone())
}

/// Renders `message` (already known to belong to `schema`'s stream) as compact JSON.
pub fn render(
    schema: &EventSchema,
    message: &StoredMessage,
    settings: &CloudEventSettings,
) -> Result<Bytes, RenderError> {
    let sequence = message.sequence.get();
    let fail = |reason: String| RenderError { sequence, reason };
    let values = message
        .subject
        .decode_values(schema.key_order.len())
        .map_err(|error| fail(error.to_string()))?;
    let identifier = schema.identifier_from_values(values, message.polygon());
    let base = settings.base_url.trim_end_matches('/');
    let event = EventBuilderV10::new()
        .id(event_id(schema, sequence))
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
}
