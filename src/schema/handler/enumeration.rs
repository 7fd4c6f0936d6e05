//! `EnumHandler`: one of `values`, matched case-insensitively, canonically lower-case.

use serde::Deserialize;

use super::{HandlerOptionError, HandlerResult, empty_value};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumRule {
    /// As configured: messages list them this way.
    pub values: Vec<String>,
    #[serde(skip)]
    lowered: Vec<String>,
}

impl EnumRule {
    pub fn new(values: Vec<String>) -> Result<Self, HandlerOptionError> {
        let mut rule = Self {
            values,
            lowered: Vec::new(),
        };
        rule.check_options()?;
        Ok(rule)
    }

    pub fn check_options(&mut self) -> Result<(), HandlerOptionError> {
        if self.values.is_empty() || self.values.iter().any(|value| value.trim().is_empty()) {
            return Err(HandlerOptionError::NoEnumValues);
        }
        self.lowered = self
            .values
            .iter()
            .map(|value| value.to_lowercase())
            .collect();
        Ok(())
    }

    pub fn canonicalize(&self, key: &str, value: &str) -> HandlerResult {
        if value.is_empty() {
            return Err(empty_value(key).into());
        }
        let lowered = value.to_lowercase();
        if self.lowered.contains(&lowered) {
            Ok(lowered)
        } else {
            Err(format!(
                "Field '{key}' has invalid value '{value}'. Allowed: [{}]",
                self.values.join(", ")
            )
            .into())
        }
    }

    /// For constraint operands: lower-cased, and worded as aviso words enum constraints.
    pub fn canonicalize_operand(&self, key: &str, value: &str) -> HandlerResult {
        let lowered = value.to_lowercase();
        if self.lowered.contains(&lowered) {
            Ok(lowered)
        } else {
            Err(format!(
                "Field '{key}' has invalid enum value '{lowered}'. Allowed: [{}]",
                self.lowered.join(", ")
            )
            .into())
        }
    }
}
