//! `FloatHandler`: a finite f64, canonically in Rust's shortest display (`5.0` → `5`);
//! optional inclusive `range`.

use serde::Deserialize;

use super::{HandlerOptionError, HandlerResult, ValueError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloatRule {
    pub range: Option<[f64; 2]>,
}

impl FloatRule {
    pub fn check_options(&self) -> Result<(), HandlerOptionError> {
        match self.range {
            Some([min, max]) if !(min.is_finite() && max.is_finite()) || min > max => {
                Err(HandlerOptionError::FloatRangeInvalid { min, max })
            }
            _ => Ok(()),
        }
    }

    pub fn parse(&self, key: &str, value: &str) -> Result<f64, ValueError> {
        let number: f64 = value.parse().map_err(|error: std::num::ParseFloatError| {
            ValueError::with_details(
                format!("Field '{key}' must be a valid number, got: '{value}'"),
                error.to_string(),
            )
        })?;
        if !number.is_finite() {
            return Err(format!("Field '{key}' must be a finite number, got: '{value}'").into());
        }
        self.check_range(key, number)?;
        Ok(number)
    }

    pub fn check_range(&self, key: &str, number: f64) -> Result<(), ValueError> {
        match self.range {
            Some([min, max]) if number < min || number > max => Err(format!(
                "Field '{key}' value {number} is outside allowed range [{min}, {max}]"
            )
            .into()),
            _ => Ok(()),
        }
    }

    pub fn canonicalize(&self, key: &str, value: &str) -> HandlerResult {
        self.parse(key, value).map(|number| number.to_string())
    }
}
