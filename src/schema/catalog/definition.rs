//! One event type's definition, checked on its own: its topic, identifier keys, key order
//! and policies. Every problem is kept, not only the first, so `tidings check` lists them
//! all.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::{reserved_base, valid_base};
use crate::domain::{EventType, StreamKey};
use crate::schema::event_schema::{EventSchema, PayloadRule};
use crate::schema::handler::{HandlerOptionError, KeyRule};
use crate::schema::source::RawEntry;
use crate::schema::storage_policy::{PolicyError, StoragePolicy};
use crate::schema::stream_auth::{StreamAuth, StreamAuthError};

/// What is wrong with one event type's definition; the catalog names the event type and
/// its document in front.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionProblem {
    #[error("is invalid: {0}")]
    Malformed(#[source] serde_yaml::Error),
    #[error("has no topic (topic.base and topic.key_order are required)")]
    NoTopic,
    #[error("has invalid topic base '{base}': topic base must match [A-Za-z0-9][A-Za-z0-9_-]*")]
    InvalidBase { base: String },
    #[error("topic base '{base}' is reserved: {reason}")]
    ReservedBase { base: String, reason: &'static str },
    #[error("identifier keys must be strings, got {key:?}")]
    KeyNotText { key: serde_yaml::Value },
    #[error("identifier '{key}': {source}")]
    InvalidKey {
        key: String,
        source: HandlerOptionError,
    },
    #[error("identifier '{key}': PolygonHandler must use the reserved identifier key 'polygon'")]
    MisnamedPolygonKey { key: String },
    #[error("identifier 'point': 'point' is reserved for watch/replay spatial filters")]
    PointKeyReserved,
    #[error("topic.key_order must not be empty")]
    EmptyKeyOrder,
    #[error("topic.key_order contains undeclared identifier '{key}'")]
    UndeclaredInKeyOrder { key: String },
    #[error("topic.key_order must not contain spatial identifier '{key}'")]
    SpatialInKeyOrder { key: String },
    #[error("topic.key_order contains duplicate identifier '{key}'")]
    DuplicateInKeyOrder { key: String },
    #[error("topic.key_order must include identifier '{key}'")]
    MissingFromKeyOrder { key: String },
    #[error("auth is invalid: {0}")]
    InvalidAuth(#[source] StreamAuthError),
    #[error("storage_policy is invalid: {0}")]
    InvalidStoragePolicy(#[source] PolicyError),
    #[error("max_historical_notifications must be greater than zero")]
    NoHistoricalNotifications,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    base: String,
    key_order: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayload {
    required: bool,
}

/// An event type's definition with the blocks kept raw so that each is checked on its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEventType {
    topic: Option<RawTopic>,
    /// Legacy aviso block, parsed and ignored.
    #[serde(rename = "endpoint")]
    _endpoint: Option<serde_yaml::Value>,
    identifier: Option<serde_yaml::Mapping>,
    payload: Option<RawPayload>,
    auth: Option<serde_yaml::Value>,
    storage_policy: Option<serde_yaml::Value>,
    max_historical_notifications: Option<usize>,
}

/// The declared keys that parsed, and the names of those that did not (a key order may
/// name them without a second problem).
#[derive(Default)]
struct Keys {
    rules: BTreeMap<String, KeyRule>,
    broken: HashSet<String>,
}

/// Compiles one entry into its event type, or every problem found in it.
pub(super) fn compile(entry: &RawEntry) -> Result<EventSchema, Vec<DefinitionProblem>> {
    let raw: RawEventType = serde_yaml::from_value(entry.definition.clone())
        .map_err(|error| vec![DefinitionProblem::Malformed(error)])?;
    let Some(topic) = raw.topic else {
        return Err(vec![DefinitionProblem::NoTopic]);
    };
    let mut problems = Vec::new();
    check_base(&topic.base, &mut problems);
    let keys = compile_keys(raw.identifier.unwrap_or_default(), &mut problems);
    check_key_names(&keys.rules, &mut problems);
    check_key_order(&topic.key_order, &keys, &mut problems);
    let auth = match raw.auth.as_ref().map(StreamAuth::from_yaml).transpose() {
        Ok(auth) => auth,
        Err(error) => {
            problems.push(DefinitionProblem::InvalidAuth(error));
            None
        }
    };
    let storage_policy = match raw
        .storage_policy
        .as_ref()
        .map(StoragePolicy::from_yaml)
        .transpose()
    {
        Ok(policy) => policy,
        Err(error) => {
            problems.push(DefinitionProblem::InvalidStoragePolicy(error));
            None
        }
    };
    if raw.max_historical_notifications == Some(0) {
        problems.push(DefinitionProblem::NoHistoricalNotifications);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(EventSchema {
        event_type: EventType::new(entry.name.clone()),
        stream: StreamKey::new(topic.base),
        key_order: topic.key_order,
        keys: keys.rules,
        payload: raw.payload.map(|payload| PayloadRule {
            required: payload.required,
        }),
        auth,
        storage_policy,
        max_historical_notifications: raw.max_historical_notifications,
    })
}

fn check_base(base: &str, problems: &mut Vec<DefinitionProblem>) {
    if !valid_base(base) {
        problems.push(DefinitionProblem::InvalidBase {
            base: base.to_owned(),
        });
    }
    if let Some(reason) = reserved_base(base) {
        problems.push(DefinitionProblem::ReservedBase {
            base: base.to_owned(),
            reason,
        });
    }
}

fn compile_keys(identifier: serde_yaml::Mapping, problems: &mut Vec<DefinitionProblem>) -> Keys {
    let mut keys = Keys::default();
    for (key, definition) in identifier {
        let Some(key) = key.as_str().map(str::to_owned) else {
            problems.push(DefinitionProblem::KeyNotText { key });
            continue;
        };
        match KeyRule::from_yaml(&definition) {
            Ok(rule) => {
                keys.rules.insert(key, rule);
            }
            Err(source) => {
                problems.push(DefinitionProblem::InvalidKey {
                    key: key.clone(),
                    source,
                });
                keys.broken.insert(key);
            }
        }
    }
    keys
}

/// The names reserved for spatial keys: `polygon` for the polygon, `point` for queries.
fn check_key_names(rules: &BTreeMap<String, KeyRule>, problems: &mut Vec<DefinitionProblem>) {
    for (key, rule) in rules {
        if rule.is_spatial() && key != "polygon" {
            problems.push(DefinitionProblem::MisnamedPolygonKey { key: key.clone() });
        }
        if key == "point" {
            problems.push(DefinitionProblem::PointKeyReserved);
        }
    }
}

/// Every non-spatial key exactly once, and nothing else.
fn check_key_order(key_order: &[String], keys: &Keys, problems: &mut Vec<DefinitionProblem>) {
    if key_order.is_empty() {
        problems.push(DefinitionProblem::EmptyKeyOrder);
    }
    let mut seen = HashSet::new();
    for key in key_order {
        match keys.rules.get(key) {
            None if keys.broken.contains(key) => {}
            None => problems.push(DefinitionProblem::UndeclaredInKeyOrder { key: key.clone() }),
            Some(rule) if rule.is_spatial() => {
                problems.push(DefinitionProblem::SpatialInKeyOrder { key: key.clone() });
            }
            Some(_) => {}
        }
        if !seen.insert(key) {
            problems.push(DefinitionProblem::DuplicateInKeyOrder { key: key.clone() });
        }
    }
    for (key, rule) in &keys.rules {
        if !rule.is_spatial() && !key_order.contains(key) {
            problems.push(DefinitionProblem::MissingFromKeyOrder { key: key.clone() });
        }
    }
}
