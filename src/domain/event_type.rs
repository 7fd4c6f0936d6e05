//! The name of a schema entry (`mars`, `dissemination`): what producers send as `event_type`.

use std::fmt;

/// An event type as configured in the schema; lookups by it are case-sensitive, as aviso's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventType(String);

impl EventType {
    /// Wraps a configured name; the catalog is the only place that creates these.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
