//! The schema catalog: every event type compiled once at start-up, immutable afterwards.
//! It is the only place that maps names (event types, stream keys, any case) to streams.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::event_schema::{EventSchema, PayloadRule};
use super::handler::KeyRule;
use super::source::{self, RawEntry};
use super::storage_policy::StoragePolicy;
use super::stream_auth::StreamAuth;
use crate::domain::{EventType, NotificationId, NotificationRef, StreamKey};

/// Every problem found in the schema, each naming the event type and key concerned.
#[derive(Debug, thiserror::Error)]
#[error("invalid schema:\n  {}", .problems.join("\n  "))]
pub struct SchemaError {
    pub problems: Vec<String>,
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

fn valid_base(base: &str) -> bool {
    let mut chars = base.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Why a topic base belongs to Tidings or NATS, if it does (any case: stream names are
/// upper-cased bases). A schema owning one could publish where Tidings listens, e.g. forged
/// `stream-wiped` retractions on `tidings.retractions`.
fn reserved_base(base: &str) -> Option<&'static str> {
    let lowered = base.to_ascii_lowercase();
    if lowered.starts_with('$') {
        Some("names starting with '$' are NATS system and API names")
    } else if lowered == "tidings" {
        Some("Tidings uses the subjects under 'tidings.' itself (retractions between instances)")
    } else if lowered.starts_with("tidings_") {
        Some("TIDINGS_* streams and buckets are Tidings' own (the audit trail is TIDINGS_AUDIT)")
    } else {
        None
    }
}

fn compile(entry: &RawEntry, problems: &mut Vec<String>) -> Option<EventSchema> {
    let name = &entry.name;
    let mut report =
        |problem: String| problems.push(format!("{}: Schema '{name}' {problem}", entry.origin));
    let raw: RawEventType = match serde_yaml::from_value(entry.definition.clone()) {
        Ok(raw) => raw,
        Err(error) => {
            report(format!("is invalid: {error}"));
            return None;
        }
    };
    let Some(topic) = raw.topic else {
        report("has no topic (topic.base and topic.key_order are required)".to_owned());
        return None;
    };
    let mut ok = true;
    if !valid_base(&topic.base) {
        report(format!(
            "has invalid topic base '{}': topic base must match [A-Za-z0-9][A-Za-z0-9_-]*",
            topic.base
        ));
        ok = false;
    }
    if let Some(reason) = reserved_base(&topic.base) {
        report(format!("topic base '{}' is reserved: {reason}", topic.base));
        ok = false;
    }
    let mut keys = BTreeMap::new();
    let mut broken_keys = HashSet::new();
    for (key, definition) in raw.identifier.unwrap_or_default() {
        let Some(key) = key.as_str().map(str::to_owned) else {
            report(format!("identifier keys must be strings, got {key:?}"));
            ok = false;
            continue;
        };
        match KeyRule::from_yaml(&definition) {
            Ok(rule) => {
                keys.insert(key, rule);
            }
            Err(problem) => {
                report(format!("identifier '{key}': {problem}"));
                broken_keys.insert(key);
                ok = false;
            }
        }
    }
    for (key, rule) in &keys {
        if rule.is_spatial() && key != "polygon" {
            report(format!(
                "identifier '{key}': PolygonHandler must use the reserved identifier key 'polygon'"
            ));
            ok = false;
        }
        if key == "point" {
            report(
                "identifier 'point': 'point' is reserved for watch/replay spatial filters"
                    .to_owned(),
            );
            ok = false;
        }
    }
    if topic.key_order.is_empty() {
        report("topic.key_order must not be empty".to_owned());
        ok = false;
    }
    let mut seen = HashSet::new();
    for key in &topic.key_order {
        match keys.get(key) {
            None if broken_keys.contains(key) => {}
            None => {
                report(format!(
                    "topic.key_order contains undeclared identifier '{key}'"
                ));
                ok = false;
            }
            Some(rule) if rule.is_spatial() => {
                report(format!(
                    "topic.key_order must not contain spatial identifier '{key}'"
                ));
                ok = false;
            }
            Some(_) => {}
        }
        if !seen.insert(key) {
            report(format!(
                "topic.key_order contains duplicate identifier '{key}'"
            ));
            ok = false;
        }
    }
    for (key, rule) in &keys {
        if !rule.is_spatial() && !topic.key_order.contains(key) {
            report(format!("topic.key_order must include identifier '{key}'"));
            ok = false;
        }
    }
    let auth = raw.auth.as_ref().and_then(|value| {
        StreamAuth::from_yaml(value)
            .map_err(|problem| {
                report(format!("auth is invalid: {problem}"));
                ok = false;
            })
            .ok()
    });
    let storage_policy = raw.storage_policy.as_ref().and_then(|value| {
        StoragePolicy::from_yaml(value)
            .map_err(|problem| {
                report(format!("storage_policy is invalid: {problem}"));
                ok = false;
            })
            .ok()
    });
    if raw.max_historical_notifications == Some(0) {
        report("max_historical_notifications must be greater than zero".to_owned());
        ok = false;
    }
    ok.then(|| EventSchema {
        event_type: EventType::new(name.clone()),
        stream: StreamKey::new(topic.base),
        key_order: topic.key_order,
        keys,
        payload: raw.payload.map(|payload| PayloadRule {
            required: payload.required,
        }),
        auth,
        storage_policy,
        max_historical_notifications: raw.max_historical_notifications,
    })
}

/// All event types, indexed for the lookups requests need.
#[derive(Debug, Clone)]
pub struct Catalog {
    entries: BTreeMap<EventType, Arc<EventSchema>>,
    /// Lower-cased event type or base → stream.
    aliases: HashMap<String, StreamKey>,
    /// Stream name (upper-cased base) → its event type.
    by_stream: BTreeMap<String, EventType>,
}

impl Catalog {
    /// Reads and compiles the schema named by settings (bundled when `paths` is empty).
    pub fn load(paths: &[PathBuf]) -> Result<Self, SchemaError> {
        let (entries, mut problems) = source::read(paths);
        let catalog = Self::compile(&entries, &mut problems);
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(SchemaError { problems })
        }
    }

    fn compile(entries: &[RawEntry], problems: &mut Vec<String>) -> Self {
        let mut catalog = Catalog {
            entries: BTreeMap::new(),
            aliases: HashMap::new(),
            by_stream: BTreeMap::new(),
        };
        let mut origins: HashMap<&str, &str> = HashMap::new();
        for entry in entries {
            if let Some(first) = origins.insert(&entry.name, &entry.origin) {
                problems.push(format!(
                    "{}: Schema '{}' is defined twice (also in {first})",
                    entry.origin, entry.name
                ));
                continue;
            }
            let Some(schema) = compile(entry, problems) else {
                continue;
            };
            let stream_name = schema.stream.stream_name();
            if let Some(owner) = catalog.by_stream.get(&stream_name) {
                problems.push(format!(
                    "{}: Schemas '{owner}' and '{}' both define topic base '{}'",
                    entry.origin,
                    entry.name,
                    schema.stream.base()
                ));
                continue;
            }
            catalog
                .by_stream
                .insert(stream_name, schema.event_type.clone());
            catalog
                .entries
                .insert(schema.event_type.clone(), Arc::new(schema));
        }
        if catalog.entries.is_empty() && problems.is_empty() {
            problems.push("no event types are defined".to_owned());
        }
        // Bases first, then event types: an event type named like another's base wins.
        for schema in catalog.entries.values() {
            catalog
                .aliases
                .insert(schema.stream.base().to_lowercase(), schema.stream.clone());
        }
        for schema in catalog.entries.values() {
            catalog.aliases.insert(
                schema.event_type.as_str().to_lowercase(),
                schema.stream.clone(),
            );
        }
        catalog
    }

    /// The event type named exactly so (event types are case-sensitive, as in aviso).
    pub fn event_type(&self, name: &str) -> Option<&Arc<EventSchema>> {
        self.entries.get(&EventType::new(name))
    }

    /// Every event type, sorted by name.
    pub fn event_types(&self) -> impl Iterator<Item = &Arc<EventSchema>> {
        self.entries.values()
    }

    /// Sorted event type names, as error bodies list them.
    pub fn event_type_names(&self) -> Vec<String> {
        self.entries
            .keys()
            .map(|name| name.as_str().to_owned())
            .collect()
    }

    /// Every stream Tidings manages (one per event type).
    pub fn streams(&self) -> Vec<StreamKey> {
        self.entries
            .values()
            .map(|schema| schema.stream.clone())
            .collect()
    }

    /// Event type, stream key or stream name, any case, to its stream.
    pub fn resolve_stream(&self, name: &str) -> Option<&StreamKey> {
        self.aliases.get(&name.trim().to_lowercase())
    }

    /// The event type that owns a stream.
    pub fn schema_for_stream(&self, stream: &StreamKey) -> Option<&Arc<EventSchema>> {
        self.by_stream
            .get(&stream.stream_name())
            .and_then(|event_type| self.entries.get(event_type))
    }

    /// Resolves a parsed `<name>@<seq>` to a stream and sequence; `None` for unknown names.
    pub fn resolve_id(&self, id: &NotificationRef) -> Option<NotificationId> {
        self.resolve_stream(&id.name).map(|stream| NotificationId {
            stream: stream.clone(),
            sequence: id.sequence,
        })
    }
}

#[cfg(test)]
mod tests;
