//! Identifier key handlers (aviso's `type:` names): one file per kind, each turning a raw
//! value into its canonical form or an aviso-worded message.

mod date;
mod enumeration;
mod expver;
mod float;
mod int;
mod options;
mod polygon;
mod string;
mod time;

use serde_json::{Value, json};

pub use date::{DateFormat, DateRule};
pub use enumeration::EnumRule;
pub use expver::ExpverRule;
pub use float::FloatRule;
pub use int::IntRule;
pub use options::HandlerOptionError;
pub use string::StringRule;

/// A refused value: aviso's outer `message` and, where aviso has one, the root cause it
/// reports as `details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub message: String,
    pub details: Option<String>,
}

impl ValueError {
    pub fn with_details(message: String, details: String) -> Self {
        Self {
            message,
            details: Some(details),
        }
    }
}

impl std::error::Error for ValueError {}

impl From<String> for ValueError {
    fn from(message: String) -> Self {
        Self {
            message,
            details: None,
        }
    }
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A canonical value, or why the raw value was refused.
pub type HandlerResult = Result<String, ValueError>;

pub(crate) fn empty_value(key: &str) -> String {
    format!("Field '{key}' cannot be empty")
}

/// What a key accepts and how it is canonicalised.
#[derive(Debug, Clone)]
pub enum KeyHandler {
    String(StringRule),
    Int(IntRule),
    Float(FloatRule),
    Enum(EnumRule),
    Date(DateRule),
    Time,
    Expver(ExpverRule),
    Polygon,
}

/// A declared identifier key: its handler plus the flags every key has.
#[derive(Debug, Clone)]
pub struct KeyRule {
    pub handler: KeyHandler,
    /// Must be given on watch/replay (notify always needs every key).
    pub required: bool,
    pub description: Option<String>,
}

impl KeyRule {
    /// The `type:` name as configured and as the schema endpoint shows it.
    pub fn type_name(&self) -> &'static str {
        match self.handler {
            KeyHandler::String(_) => "StringHandler",
            KeyHandler::Int(_) => "IntHandler",
            KeyHandler::Float(_) => "FloatHandler",
            KeyHandler::Enum(_) => "EnumHandler",
            KeyHandler::Date(_) => "DateHandler",
            KeyHandler::Time => "TimeHandler",
            KeyHandler::Expver(_) => "ExpverHandler",
            KeyHandler::Polygon => "PolygonHandler",
        }
    }

    pub fn is_spatial(&self) -> bool {
        matches!(self.handler, KeyHandler::Polygon)
    }

    /// Canonical form of a scalar (already stringified) value.
    pub fn canonicalize(&self, key: &str, value: &str) -> HandlerResult {
        match &self.handler {
            KeyHandler::String(rule) => rule.canonicalize(key, value),
            KeyHandler::Int(rule) => rule.canonicalize(key, value),
            KeyHandler::Float(rule) => rule.canonicalize(key, value),
            KeyHandler::Enum(rule) => rule.canonicalize(key, value),
            KeyHandler::Date(rule) => rule.canonicalize(key, value),
            KeyHandler::Time => time::canonicalize(key, value),
            KeyHandler::Expver(rule) => rule.canonicalize(key, value),
            KeyHandler::Polygon => {
                polygon::parse(key, &Value::String(value.to_owned())).map(|_| value.to_owned())
            }
        }
    }

    /// Parses a polygon value in either accepted form.
    pub fn parse_polygon(key: &str, value: &Value) -> Result<crate::domain::Polygon, ValueError> {
        polygon::parse(key, value)
    }

    /// The rule as `GET /api/v1/schema` shows it: `type`, options (unset ones as `null`),
    /// `required`, and `description` only when configured.
    pub fn describe(&self) -> Value {
        let mut object = match &self.handler {
            KeyHandler::String(rule) => json!({ "max_length": rule.max_length }),
            KeyHandler::Int(rule) => json!({ "range": rule.range }),
            KeyHandler::Float(rule) => json!({ "range": rule.range }),
            KeyHandler::Enum(rule) => json!({ "values": rule.values }),
            KeyHandler::Date(rule) => json!({ "canonical_format": rule.canonical_format.as_str() }),
            KeyHandler::Expver(rule) => json!({ "default": rule.default }),
            KeyHandler::Time | KeyHandler::Polygon => json!({}),
        };
        if let Value::Object(map) = &mut object {
            map.insert("type".to_owned(), json!(self.type_name()));
            map.insert("required".to_owned(), json!(self.required));
            if let Some(description) = &self.description {
                map.insert("description".to_owned(), json!(description));
            }
        }
        object
    }
}

#[cfg(test)]
mod tests;
