//! `ExpverHandler`: all digits → zero-padded to four (`1` → `0001`); anything else
//! lower-cased; empty → the configured `default`.

use serde::Deserialize;

use super::{HandlerOptionError, HandlerResult, empty_value};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpverRule {
    pub default: Option<String>,
}

fn canonical(value: &str) -> String {
    match value.parse::<u32>() {
        Ok(number) if value.bytes().all(|b| b.is_ascii_digit()) => format!("{number:04}"),
        _ => value.to_lowercase(),
    }
}

impl ExpverRule {
    pub fn check_options(&self) -> Result<(), HandlerOptionError> {
        match &self.default {
            Some(default) if default.trim().is_empty() => {
                Err(HandlerOptionError::EmptyExpverDefault)
            }
            _ => Ok(()),
        }
    }

    pub fn canonicalize(&self, key: &str, value: &str) -> HandlerResult {
        if value.is_empty() {
            return match &self.default {
                Some(default) => Ok(canonical(default)),
                None => Err(empty_value(key).into()),
            };
        }
        Ok(canonical(value))
    }
}
