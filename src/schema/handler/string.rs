//! `StringHandler`: any non-empty string, unchanged; optional `max_length` in bytes.

use serde::Deserialize;

use super::{HandlerResult, empty_value};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StringRule {
    pub max_length: Option<usize>,
}

impl StringRule {
    pub fn canonicalize(&self, key: &str, value: &str) -> HandlerResult {
        if value.is_empty() {
            return Err(empty_value(key).into());
        }
        match self.max_length {
            Some(max) if value.len() > max => Err(format!(
                "Field '{key}' exceeds maximum length of {max} characters, got: {}",
                value.len()
            )
            .into()),
            _ => Ok(value.to_owned()),
        }
    }
}
