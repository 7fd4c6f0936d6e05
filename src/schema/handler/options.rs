//! One `identifier.<key>` block as configured: the flags every key has, then the handler
//! its `type` names with that handler's options; or why the block is refused.

use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

use super::{EnumRule, ExpverRule, FloatRule, IntRule, KeyHandler, KeyRule};

/// Why an `identifier.<key>` block was refused; the catalog prefixes the key.
#[derive(Debug, thiserror::Error)]
pub enum HandlerOptionError {
    #[error("must be a mapping with a 'type'")]
    NotAMapping,
    #[error("'type' must be a string")]
    TypeNotText,
    #[error("'type' is missing")]
    TypeMissing,
    #[error("'required' must be true or false")]
    RequiredNotBool,
    #[error("'required' is missing (true or false)")]
    RequiredMissing,
    #[error("'description' must be a string")]
    DescriptionNotText,
    #[error("unknown handler type '{type_name}'")]
    UnknownType { type_name: String },
    /// An option given to a handler that takes none.
    #[error("unknown option {}", yaml_text(.option))]
    UnknownOption { option: Value },
    /// Options that do not fit the handler's rule (unknown names, wrong types).
    #[error(transparent)]
    InvalidOptions(#[from] serde_yaml::Error),
    #[error("range [{min}, {max}] has min > max")]
    IntRangeReversed { min: i64, max: i64 },
    #[error("range [{min}, {max}] must be finite with min <= max")]
    FloatRangeInvalid { min: f64, max: f64 },
    #[error("values must be a non-empty list of non-empty strings")]
    NoEnumValues,
    #[error("default cannot be empty")]
    EmptyExpverDefault,
}

/// A YAML key as the block spells it (`format`, `5`), for messages.
fn yaml_text(value: &Value) -> String {
    serde_yaml::to_string(value)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn options<T: DeserializeOwned>(options: Mapping) -> Result<T, HandlerOptionError> {
    Ok(serde_yaml::from_value(Value::Mapping(options))?)
}

/// For handlers without options: any entry left in the block is unknown.
fn no_options(mapping: Mapping) -> Result<(), HandlerOptionError> {
    match mapping.into_iter().next() {
        Some((option, _)) => Err(HandlerOptionError::UnknownOption { option }),
        None => Ok(()),
    }
}

/// The handler `type_name` names, from the block's entries other than the flags.
fn handler(type_name: &str, mapping: Mapping) -> Result<KeyHandler, HandlerOptionError> {
    Ok(match type_name {
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
        other => {
            return Err(HandlerOptionError::UnknownType {
                type_name: other.to_owned(),
            });
        }
    })
}

impl KeyRule {
    /// Parses one `identifier.<key>` block; the error says what is wrong with it.
    pub fn from_yaml(value: &Value) -> Result<Self, HandlerOptionError> {
        let mut mapping = value
            .as_mapping()
            .cloned()
            .ok_or(HandlerOptionError::NotAMapping)?;
        let type_name = match mapping.remove("type") {
            Some(Value::String(name)) => name,
            Some(_) => return Err(HandlerOptionError::TypeNotText),
            None => return Err(HandlerOptionError::TypeMissing),
        };
        let required = match mapping.remove("required") {
            Some(Value::Bool(required)) => required,
            Some(_) => return Err(HandlerOptionError::RequiredNotBool),
            None => return Err(HandlerOptionError::RequiredMissing),
        };
        let description = match mapping.remove("description") {
            Some(Value::String(text)) => Some(text),
            Some(_) => return Err(HandlerOptionError::DescriptionNotText),
            None => None,
        };
        Ok(Self {
            handler: handler(&type_name, mapping)?,
            required,
            description,
        })
    }
}
