//! The stream key (aviso's `topic.base`): subject root of an event type and, upper-cased,
//! the JetStream stream name.

use std::fmt;

/// A topic base such as `diss`; `stream_name()` gives the JetStream name `DISS`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct StreamKey(String);

impl StreamKey {
    /// Wraps a base that the schema loader has already checked to be a valid subject token.
    pub fn new(base: impl Into<String>) -> Self {
        Self(base.into())
    }

    /// The base as configured (the first subject token).
    pub fn base(&self) -> &str {
        &self.0
    }

    /// The JetStream stream name: the base upper-cased, as aviso names its streams.
    pub fn stream_name(&self) -> String {
        self.0.to_uppercase()
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.stream_name())
    }
}
