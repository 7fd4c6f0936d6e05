//! `IntHandler`: an i64 in decimal (leading `+` and zeros accepted), canonically without
//! leading zeros; optional inclusive `range`.

use serde::Deserialize;

use super::{HandlerOptionError, HandlerResult, ValueError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntRule {
    pub range: Option<[i64; 2]>,
}

impl IntRule {
    pub fn check_options(&self) -> Result<(), HandlerOptionError> {
        match self.range {
            Some([min, max]) if min > max => Err(HandlerOptionError::IntRangeReversed { min, max }),
            _ => Ok(()),
        }
    }

    pub fn parse(&self, key: &str, value: &str) -> Result<i64, ValueError> {
        let number: i64 = value.parse().map_err(|error: std::num::ParseIntError| {
            ValueError::with_details(
                format!("Field '{key}' must be a valid integer, got: '{value}'"),
                error.to_string(),
            )
        })?;
        self.check_range(key, number)?;
        Ok(number)
    }

    pub fn check_range(&self, key: &str, number: i64) -> Result<(), ValueError> {
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
