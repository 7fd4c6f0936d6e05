//! The schema catalog: every event type compiled once at start-up, immutable afterwards.
//! It is the only place that maps names (event types, stream keys, any case) to streams.

mod definition;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use super::event_schema::EventSchema;
use super::source::{self, RawEntry, SourceError};
use crate::domain::{EventType, NotificationId, NotificationRef, StreamKey};

pub use definition::DefinitionProblem;

/// Every problem found in the schema, each naming the event type and key concerned.
#[derive(Debug, thiserror::Error)]
#[error("invalid schema:\n  {}", one_per_line(.problems))]
pub struct SchemaError {
    pub problems: Vec<SchemaProblem>,
}

fn one_per_line(problems: &[SchemaProblem]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    lines.join("\n  ")
}

/// One problem in the schema, naming the document it is in.
#[derive(Debug, thiserror::Error)]
pub enum SchemaProblem {
    /// A document that cannot be read as a schema.
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{origin}: Schema '{event_type}' {problem}")]
    Definition {
        origin: String,
        event_type: String,
        #[source]
        problem: DefinitionProblem,
    },
    #[error("{origin}: Schema '{event_type}' is defined twice (also in {first})")]
    DefinedTwice {
        origin: String,
        event_type: String,
        first: String,
    },
    /// Two event types would share one stream (bases compare case-insensitively).
    #[error("{origin}: Schemas '{owner}' and '{event_type}' both define topic base '{base}'")]
    SharedBase {
        origin: String,
        owner: EventType,
        event_type: String,
        base: String,
    },
    #[error("no event types are defined")]
    NoEventTypes,
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
        let (entries, unreadable) = source::read(paths);
        let mut problems: Vec<SchemaProblem> =
            unreadable.into_iter().map(SchemaProblem::from).collect();
        let catalog = Self::compile(&entries, &mut problems);
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(SchemaError { problems })
        }
    }

    /// Compiles every entry it can; the problems of the others are added to `problems`.
    fn compile(entries: &[RawEntry], problems: &mut Vec<SchemaProblem>) -> Self {
        let mut catalog = Catalog {
            entries: BTreeMap::new(),
            aliases: HashMap::new(),
            by_stream: BTreeMap::new(),
        };
        let mut origins: HashMap<&str, &str> = HashMap::new();
        for entry in entries {
            if let Some(first) = origins.insert(&entry.name, &entry.origin) {
                problems.push(SchemaProblem::DefinedTwice {
                    origin: entry.origin.clone(),
                    event_type: entry.name.clone(),
                    first: first.to_owned(),
                });
                continue;
            }
            match definition::compile(entry) {
                Ok(schema) => match catalog.owner(&schema.stream) {
                    Some(owner) => problems.push(SchemaProblem::SharedBase {
                        origin: entry.origin.clone(),
                        owner: owner.clone(),
                        event_type: entry.name.clone(),
                        base: schema.stream.base().to_owned(),
                    }),
                    None => catalog.insert(schema),
                },
                Err(found) => {
                    problems.extend(found.into_iter().map(|problem| SchemaProblem::Definition {
                        origin: entry.origin.clone(),
                        event_type: entry.name.clone(),
                        problem,
                    }))
                }
            }
        }
        if catalog.entries.is_empty() && problems.is_empty() {
            problems.push(SchemaProblem::NoEventTypes);
        }
        catalog.index_aliases();
        catalog
    }

    /// The event type already using `stream` (stream names ignore the base's case).
    fn owner(&self, stream: &StreamKey) -> Option<&EventType> {
        self.by_stream.get(&stream.stream_name())
    }

    fn insert(&mut self, schema: EventSchema) {
        self.by_stream
            .insert(schema.stream.stream_name(), schema.event_type.clone());
        self.entries
            .insert(schema.event_type.clone(), Arc::new(schema));
    }

    /// Bases first, then event types: an event type named like another's base wins.
    fn index_aliases(&mut self) {
        for schema in self.entries.values() {
            self.aliases
                .insert(schema.stream.base().to_lowercase(), schema.stream.clone());
        }
        for schema in self.entries.values() {
            self.aliases.insert(
                schema.event_type.as_str().to_lowercase(),
                schema.stream.clone(),
            );
        }
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
