//! One compiled event type: its stream, keys, subject layout and policies, and the two
//! ways identifiers are checked (notify: a complete identifier; watch/replay: a filter).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::constraint::Constraint;
use super::handler::KeyRule;
use super::rejection::{Operation, Rejection};
use super::spatial::SpatialFilter;
use super::storage_policy::StoragePolicy;
use super::stream_auth::StreamAuth;
use crate::domain::{CanonicalIdentifier, EventType, Polygon, StreamKey};
use crate::subject::{Subject, SubjectError, SubjectFilter, TokenPattern};

/// The query-only key naming a point that stored polygons must contain.
pub const POINT_KEY: &str = "point";

#[derive(Debug, Clone)]
pub struct EventSchema {
    pub event_type: EventType,
    pub stream: StreamKey,
    /// Identifier keys in subject order (every non-spatial key, exactly once).
    pub key_order: Vec<String>,
    pub keys: BTreeMap<String, KeyRule>,
    /// The schema's `payload` block, kept as configured: `GET /api/v1/schema` shows it.
    pub payload: Option<PayloadRule>,
    pub auth: Option<StreamAuth>,
    pub storage_policy: Option<StoragePolicy>,
    pub max_historical_notifications: Option<usize>,
}

/// An event type's `payload` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadRule {
    /// Notify without a payload (or with `null`) is refused.
    pub required: bool,
}

/// What watch/replay select: a subject filter plus what subjects cannot express.
#[derive(Debug, Clone)]
pub struct IdentifierFilter {
    pub subject: SubjectFilter,
    /// Constraints by `key_order` position, checked on decoded tokens.
    pub constraints: Vec<(usize, Constraint)>,
    pub spatial: Option<SpatialFilter>,
}

impl IdentifierFilter {
    /// Whether the notification stored under `subject` passes: the one check watch, replay,
    /// browse and matching purges share. `polygon` (the stored polygon header) is read only
    /// when a spatial filter needs it; a subject that does not decode never passes.
    pub fn admits(&self, subject: &Subject, polygon: impl FnOnce() -> Option<Polygon>) -> bool {
        let Ok(values) = subject.decode_values_borrowed(self.subject.positions()) else {
            return false;
        };
        let polygon = self.spatial.as_ref().and_then(|_| polygon());
        self.matches(&values, polygon.as_ref())
    }

    /// Whether decoded tokens and a polygon pass: [`Self::admits`] for callers that decode a
    /// subject once and check it against many filters (push-delivery routing).
    pub(crate) fn matches<S: AsRef<str>>(&self, values: &[S], polygon: Option<&Polygon>) -> bool {
        self.subject.matches_values(values)
            && self.constraints.iter().all(|(position, constraint)| {
                values
                    .get(*position)
                    .is_some_and(|v| constraint.matches(v.as_ref()))
            })
            && self
                .spatial
                .as_ref()
                .is_none_or(|spatial| spatial.matches(polygon))
    }
}

enum RawValue<'a> {
    Scalar(String),
    Constraint(&'a Map<String, Value>),
    Other(&'a Value),
}

fn classify(value: &Value) -> RawValue<'_> {
    match value {
        Value::String(text) => RawValue::Scalar(text.clone()),
        Value::Number(number) => RawValue::Scalar(number.to_string()),
        Value::Bool(flag) => RawValue::Scalar(flag.to_string()),
        Value::Object(object) => RawValue::Constraint(object),
        other => RawValue::Other(other),
    }
}

fn not_a_scalar(key: &str, value: &Value) -> Rejection {
    let key = key.to_owned();
    match value {
        Value::Array(_) => Rejection::Array { key },
        _ => Rejection::Null { key },
    }
}

impl EventSchema {
    /// Whether notify must carry a payload (no `payload` block: it need not).
    pub fn payload_required(&self) -> bool {
        self.payload.is_some_and(|payload| payload.required)
    }

    /// The spatial key (`polygon`), if this event type has one.
    pub fn spatial_key(&self) -> Option<&str> {
        self.keys
            .iter()
            .find(|(_, rule)| rule.is_spatial())
            .map(|(key, _)| key.as_str())
    }

    /// Validates and canonicalises a notify identifier: every declared key, nothing else.
    pub fn canonicalize(
        &self,
        identifier: &Map<String, Value>,
    ) -> Result<CanonicalIdentifier, Rejection> {
        if identifier.contains_key(POINT_KEY) && !self.keys.contains_key(POINT_KEY) {
            return Err(Rejection::PointOnNotify);
        }
        if let Some(key) = identifier.keys().find(|key| !self.keys.contains_key(*key)) {
            return Err(Rejection::UnknownKey {
                key: key.clone(),
                operation: Operation::Notify,
            });
        }
        let mut canonical = CanonicalIdentifier::default();
        for (key, rule) in &self.keys {
            let value = identifier.get(key).ok_or_else(|| Rejection::MissingKey {
                key: key.clone(),
                operation: Operation::Notify,
            })?;
            if rule.is_spatial() {
                let polygon = KeyRule::parse_polygon(key, value).map_err(Rejection::Value)?;
                canonical.polygon = Some((key.clone(), polygon));
                continue;
            }
            match classify(value) {
                RawValue::Scalar(text) => {
                    let value = rule.canonicalize(key, &text).map_err(Rejection::Value)?;
                    canonical.values.insert(key.clone(), value);
                }
                RawValue::Constraint(_) => {
                    return Err(Rejection::ConstraintOnNotify { key: key.clone() });
                }
                RawValue::Other(value) => return Err(not_a_scalar(key, value)),
            }
        }
        Ok(canonical)
    }

    /// The subject a canonical identifier is published under.
    pub fn subject(&self, identifier: &CanonicalIdentifier) -> Result<Subject, SubjectError> {
        Subject::build(
            self.stream.base(),
            self.key_order
                .iter()
                .map(|key| identifier.values.get(key).map_or("", String::as_str)),
        )
    }

    /// Rebuilds the canonical identifier from a stored subject's decoded values.
    pub fn identifier_from_values(
        &self,
        values: Vec<String>,
        polygon: Option<Polygon>,
    ) -> CanonicalIdentifier {
        CanonicalIdentifier {
            values: self.key_order.iter().cloned().zip(values).collect(),
            polygon: polygon
                .zip(self.spatial_key())
                .map(|(polygon, key)| (key.to_owned(), polygon)),
        }
    }

    /// Validates a watch/replay identifier into a filter: required keys present, absent
    /// optional keys are wildcards, constraints and spatial filters parsed.
    pub fn filter(
        &self,
        identifier: &Map<String, Value>,
        operation: Operation,
    ) -> Result<IdentifierFilter, Rejection> {
        let spatial_key = self.spatial_key();
        let point = identifier
            .get(POINT_KEY)
            .filter(|_| !self.keys.contains_key(POINT_KEY));
        if point.is_some() && spatial_key.is_some_and(|key| identifier.contains_key(key)) {
            return Err(Rejection::PolygonAndPoint);
        }
        let mut spatial = point.map(SpatialFilter::parse_point).transpose()?;
        if let Some(key) = identifier
            .keys()
            .find(|key| !self.keys.contains_key(*key) && key.as_str() != POINT_KEY)
        {
            return Err(Rejection::UnknownKey {
                key: key.clone(),
                operation,
            });
        }
        for (key, rule) in &self.keys {
            let absent = !identifier.contains_key(key);
            let replaced_by_point = rule.is_spatial() && spatial.is_some();
            if rule.required && absent && !replaced_by_point {
                return Err(Rejection::MissingKey {
                    key: key.clone(),
                    operation,
                });
            }
            if let Some(value) = identifier.get(key).filter(|_| rule.is_spatial()) {
                let polygon = KeyRule::parse_polygon(key, value).map_err(Rejection::Value)?;
                spatial = Some(SpatialFilter::Intersects(polygon));
            }
        }
        let mut tokens = Vec::with_capacity(self.key_order.len());
        let mut constraints = Vec::new();
        for (position, key) in self.key_order.iter().enumerate() {
            let rule = &self.keys[key];
            let token = match identifier.get(key).map(classify) {
                None => TokenPattern::Any,
                Some(RawValue::Scalar(text)) => {
                    TokenPattern::Exact(rule.canonicalize(key, &text).map_err(Rejection::Value)?)
                }
                Some(RawValue::Constraint(object)) => {
                    let constraint = Constraint::parse(key, &rule.handler, object)?;
                    constraints.push((position, constraint));
                    TokenPattern::Any
                }
                Some(RawValue::Other(value)) => return Err(not_a_scalar(key, value)),
            };
            tokens.push(token);
        }
        Ok(IdentifierFilter {
            subject: SubjectFilter::new(self.stream.base(), tokens),
            constraints,
            spatial,
        })
    }

    /// The event type as `GET /api/v1/schema` shows it.
    pub fn describe(&self) -> Value {
        let identifier: Map<String, Value> = self
            .keys
            .iter()
            .map(|(key, rule)| (key.clone(), rule.describe()))
            .collect();
        serde_json::json!({
            "identifier": identifier,
            // As aviso: the block as configured, `null` when there is none.
            "payload": self.payload.map(|payload| serde_json::json!({"required": payload.required})),
        })
    }
}
