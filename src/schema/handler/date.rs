//! `DateHandler`: `YYYY-MM-DD`, `YYYYMMDD` or `YYYY-DDD` (day of year), rendered in the
//! configured `canonical_format` (`%Y%m%d` by default, or `%Y-%m-%d`).

use chrono::NaiveDate;
use serde::Deserialize;

use super::{HandlerResult, ValueError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DateFormat {
    #[serde(rename = "%Y%m%d")]
    Compact,
    #[serde(rename = "%Y-%m-%d")]
    Dashed,
}

impl DateFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DateFormat::Compact => "%Y%m%d",
            DateFormat::Dashed => "%Y-%m-%d",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRule {
    #[serde(default = "compact")]
    pub canonical_format: DateFormat,
}

fn compact() -> DateFormat {
    DateFormat::Compact
}

fn parse_date(value: &str) -> Option<NaiveDate> {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match value.len() {
        10 if value.as_bytes()[4] == b'-' && value.as_bytes()[7] == b'-' => {
            NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
        }
        8 if all_digits(value) => NaiveDate::parse_from_str(value, "%Y%m%d").ok(),
        8 if value.as_bytes()[4] == b'-' && all_digits(&value[..4]) && all_digits(&value[5..]) => {
            let year = value[..4].parse().ok()?;
            let ordinal = value[5..].parse().ok()?;
            NaiveDate::from_yo_opt(year, ordinal)
        }
        _ => None,
    }
}

impl DateRule {
    pub fn canonicalize(&self, key: &str, value: &str) -> HandlerResult {
        let date = value.is_ascii().then(|| parse_date(value)).flatten().ok_or_else(|| {
            ValueError::with_details(
                format!("Failed to parse date value for field '{key}'"),
                format!(
                    "Field '{key}' contains invalid date '{value}'. Expected: YYYY-MM-DD, YYYYMMDD, or YYYY-DDD"
                ),
            )
        })?;
        Ok(date.format(self.canonical_format.as_str()).to_string())
    }
}
