//! Identifier key handlers (aviso's `type:` names): one file per kind, each turning a raw
//! value into its canonical form or an aviso-worded message.

mod date;
mod enumeration;
mod expver;
mod float;
mod int;
mod polygon;
mod string;
mod time;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use date::{DateFormat, DateRule};
pub use enumeration::EnumRule;
pub use expver::ExpverRule;
pub use float::FloatRule;
pub use int::IntRule;
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

fn options<T: DeserializeOwned>(options: serde_yaml::Mapping) -> Result<T, String> {
    serde_yaml::from_value(serde_yaml::Value::Mapping(options)).map_err(|error| error.to_string())
}

impl KeyRule {
    /// Parses one `identifier.<key>` block; the error says what is wrong with it.
    pub fn from_yaml(value: &serde_yaml::Value) -> Result<Self, String> {
        let mut mapping = value
            .as_mapping()
            .cloned()
            .ok_or_else(|| "must be a mapping with a 'type'".to_owned())?;
        let type_name = match mapping.remove("type") {
            Some(serde_yaml::Value::String(name)) => name,
            Some(_) => return Err("'type' must be a string".to_owned()),
            None => return Err("'type' is missing".to_owned()),
        };
        let required = match mapping.remove("required") {
            Some(serde_yaml::Value::Bool(required)) => required,
            Some(_) => return Err("'required' must be true or false".to_owned()),
            None => return Err("'required' is missing (true or false)".to_owned()),
        };
        let description = match mapping.remove("description") {
            Some(serde_yaml::Value::String(text)) => Some(text),
            Some(_) => return Err("'description' must be a string".to_owned()),
            None => None,
        };
        let no_options = |mapping: serde_yaml::Mapping| match mapping.keys().next() {
            Some(key) => Err(format!(
                "unknown option {}",
                serde_yaml::to_string(key).unwrap_or_default().trim()
            )),
            None => Ok(()),
        };
        let handler = match type_name.as_str() {
            "StringHandler" => KeyHandler::String(options(mapping)?),
            "IntHandler" => {
                let rule: IntRule = options(mapping)?;
                rule.check_options()?;
                KeyHandler::Int(rule)
            }
            "FloatHandler" => {
                let rule: FloatRule = options(mapping)?;
                rule.check_options()?;
                KeyHandler::Float(rule)
            }
            "EnumHandler" => {
                let mut rule: EnumRule = options(mapping)?;
                rule.check_options()?;
                KeyHandler::Enum(rule)
            }
            "DateHandler" => KeyHandler::Date(options(mapping)?),
            "TimeHandler" => {
                no_options(mapping)?;
                KeyHandler::Time
            }
            "ExpverHandler" => {
                let rule: ExpverRule = options(mapping)?;
                rule.check_options()?;
                KeyHandler::Expver(rule)
            }
            "PolygonHandler" => {
                no_options(mapping)?;
                KeyHandler::Polygon
            }
            other => return Err(format!("unknown handler type '{other}'")),
        };
        Ok(Self {
            handler,
            required,
            description,
        })
    }

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
