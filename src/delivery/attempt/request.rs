//! The request of an attempt (DELIVERY.md §4): URL, headers and body, signed. Built apart
//! from sending so that what a receiver gets can be checked without a network.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::{Attempt, AttemptError};
use crate::delivery::destination::{Destination, Format};
use crate::delivery::signature::{self, Secret};

const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";
const BINARY_CONTENT_TYPE: &str = "application/json";

/// Binary-mode attribute headers (§4) and whether the CloudEvent must carry the attribute:
/// the first four are required by CloudEvents 1.0, the others optional.
const CE_ATTRIBUTES: [(&str, &str, bool); 6] = [
    ("ce-specversion", "specversion", true),
    ("ce-id", "id", true),
    ("ce-type", "type", true),
    ("ce-source", "source", true),
    ("ce-time", "time", false),
    ("ce-dataschema", "dataschema", false),
];

/// What goes on the wire, before the address check.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) url: Url,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

/// The request for `attempt`, signed at `now` (its `webhook-timestamp`) with every key in
/// force then.
pub(super) fn prepare(attempt: &Attempt<'_>, now: DateTime<Utc>) -> Result<Prepared, AttemptError> {
    let settings = &attempt.destination.settings;
    let url = Url::parse(&settings.url).map_err(AttemptError::Url)?;
    let mut headers = destination_headers(&attempt.destination.settings.headers)?;
    let body = match settings.format {
        Format::Structured => {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static(STRUCTURED_CONTENT_TYPE),
            );
            attempt.event.clone()
        }
        Format::Binary => {
            let (body, attributes) = binary(&attempt.event)?;
            headers.extend(attributes);
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(BINARY_CONTENT_TYPE));
            body
        }
    };
    let keys = keys_in_force(attempt.destination, now)?;
    let timestamp = now.timestamp();
    let key_refs: Vec<&Secret> = keys.iter().collect();
    let signed = signature::sign(attempt.webhook_id, timestamp, &body, &key_refs);
    headers.insert("webhook-id", value("webhook-id", attempt.webhook_id)?);
    headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
    headers.insert("webhook-signature", value("webhook-signature", &signed)?);
    Ok(Prepared { url, headers, body })
}

/// Names the transport and the signature own. Validation already refuses these in a
/// destination (and `User-Agent` is the client's); skipping them again here means a record
/// stored by an older or buggy writer still cannot forge a signature or smuggle framing.
fn protocol_owned(name: &HeaderName) -> bool {
    let name = name.as_str();
    matches!(
        name,
        "host"
            | "content-length"
            | "content-type"
            | "transfer-encoding"
            | "connection"
            | "user-agent"
    ) || name.starts_with("webhook-")
        || name.starts_with("ce-")
}

/// The destination's own headers, except the protocol's (see [`protocol_owned`]).
fn destination_headers(
    configured: &std::collections::BTreeMap<String, String>,
) -> Result<HeaderMap, AttemptError> {
    let mut headers = HeaderMap::with_capacity(configured.len() + 10);
    for (name, text) in configured {
        let invalid = || AttemptError::Header { name: name.clone() };
        let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        if protocol_owned(&parsed) {
            continue;
        }
        headers.append(parsed, HeaderValue::from_str(text).map_err(|_| invalid())?);
    }
    Ok(headers)
}

fn value(name: &str, text: &str) -> Result<HeaderValue, AttemptError> {
    HeaderValue::from_str(text).map_err(|_| AttemptError::Header {
        name: name.to_owned(),
    })
}

/// The keys that sign now, read back from their stored form. During a rotation grace both
/// the old and the new key sign (§3 `rotate-secret`).
fn keys_in_force(
    destination: &Destination,
    now: DateTime<Utc>,
) -> Result<Vec<Secret>, AttemptError> {
    let keys: Vec<Secret> = destination
        .keys
        .iter()
        .filter(|key| key.in_force(now))
        .map(|key| {
            key.secret().map_err(|source| AttemptError::Key {
                id: key.id.clone(),
                source,
            })
        })
        .collect::<Result<_, _>>()?;
    if keys.is_empty() {
        return Err(AttemptError::NoKey);
    }
    Ok(keys)
}

/// Binary mode (CloudEvents HTTP binding §3.1): the body is `data` alone, compact JSON, and
/// the attributes travel as `ce-*` headers.
fn binary(event: &[u8]) -> Result<(Bytes, HeaderMap), AttemptError> {
    let event: Map<String, Value> = serde_json::from_slice(event).map_err(AttemptError::Event)?;
    let data = event.get("data").unwrap_or(&Value::Null);
    let body = serde_json::to_vec(data).map_err(AttemptError::Event)?;
    let mut headers = HeaderMap::with_capacity(CE_ATTRIBUTES.len());
    for (header, attribute, required) in CE_ATTRIBUTES {
        match event.get(attribute) {
            Some(Value::String(text)) => {
                headers.insert(header, value(header, &percent_encoded(text))?);
            }
            None if !required => {}
            _ => return Err(AttemptError::Attribute(attribute)),
        }
    }
    Ok((Bytes::from(body), headers))
}

/// A header value as the CloudEvents HTTP binding (§3.1.3.2) writes attribute values: the
/// UTF-8 bytes outside printable ASCII, space, `"` and `%` percent-encoded, so any string
/// survives a header and reads back unchanged.
fn percent_encoded(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x21..=0x7e).contains(&byte) && byte != b'"' && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = concat!(
        r#"{"data":{"identifier":{"class":"od"},"payload":{"b":[1,2.5],"a":"x"}},"#,
        r#""datacontenttype":"application/json","dataschema":"http://h/api/v1/schema/mars","#,
        r#""id":"mars@7","source":"http://h","specversion":"1.0","#,
        r#""time":"2026-01-02T03:04:05.6Z","type":"t.mars"}"#
    );

    fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
        headers.get(name).unwrap().to_str().unwrap()
    }

    #[test]
    fn binary_mode_sends_data_compactly_and_attributes_as_headers() {
        let (body, headers) = binary(EVENT.as_bytes()).unwrap();
        assert_eq!(
            body.as_ref(),
            br#"{"identifier":{"class":"od"},"payload":{"a":"x","b":[1,2.5]}}"#
        );
        assert_eq!(header(&headers, "ce-specversion"), "1.0");
        assert_eq!(header(&headers, "ce-id"), "mars@7");
        assert_eq!(header(&headers, "ce-type"), "t.mars");
        assert_eq!(header(&headers, "ce-source"), "http://h");
        assert_eq!(header(&headers, "ce-time"), "2026-01-02T03:04:05.6Z");
        assert_eq!(
            header(&headers, "ce-dataschema"),
            "http://h/api/v1/schema/mars"
        );
        assert_eq!(headers.len(), 6);
    }

    #[test]
    fn binary_mode_skips_absent_optional_attributes_and_refuses_missing_required_ones() {
        let (body, headers) =
            binary(br#"{"id":"a@1","source":"s","specversion":"1.0","type":"t"}"#).unwrap();
        assert_eq!(body.as_ref(), b"null");
        assert!(headers.get("ce-time").is_none() && headers.get("ce-dataschema").is_none());
        let missing = binary(br#"{"id":"a@1","source":"s","specversion":"1.0"}"#).unwrap_err();
        assert!(
            matches!(missing, AttemptError::Attribute("type")),
            "{missing}"
        );
        let number = binary(br#"{"id":1,"source":"s","specversion":"1.0","type":"t"}"#);
        assert!(matches!(number, Err(AttemptError::Attribute("id"))));
        assert!(matches!(binary(b"[1]"), Err(AttemptError::Event(_))));
        assert!(matches!(binary(b"not json"), Err(AttemptError::Event(_))));
    }

    #[test]
    fn attribute_values_are_percent_encoded_as_the_http_binding_says() {
        assert_eq!(percent_encoded("plain-ASCII_1.0~"), "plain-ASCII_1.0~");
        assert_eq!(percent_encoded("a b\"c%d"), "a%20b%22c%25d");
        assert_eq!(percent_encoded("€"), "%E2%82%AC");
        assert_eq!(percent_encoded("\r\n"), "%0D%0A");
    }

    #[test]
    fn protocol_headers_are_never_taken_from_the_destination() {
        let configured = [
            ("X-Team", "ops"),
            ("Authorization", "Bearer t"),
            ("Content-Type", "text/plain"),
            ("Webhook-Signature", "v1,forged"),
            ("ce-id", "forged"),
            ("Host", "elsewhere"),
            ("User-Agent", "other"),
        ]
        .map(|(name, text)| (name.to_owned(), text.to_owned()))
        .into();
        let headers = destination_headers(&configured).unwrap();
        assert_eq!(headers.len(), 2);
        assert_eq!(header(&headers, "x-team"), "ops");
        assert_eq!(header(&headers, "authorization"), "Bearer t");
        let bad = [("X-A".to_owned(), "a\r\nb".to_owned())].into();
        let error = destination_headers(&bad).unwrap_err();
        assert!(matches!(&error, AttemptError::Header { name } if name == "X-A"));
        assert!(
            !error.to_string().contains("a\r\nb"),
            "values stay out of errors"
        );
    }
}
