//! Per-stream `storage_policy` (aviso's literals): `retention_time` like `7d`, `max_size`
//! like `64Mi`, `max_messages`, `allow_duplicates`, `compression`; Tidings adds
//! `duplicate_window` for `Idempotency-Key`.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStoragePolicy {
    retention_time: Option<String>,
    max_messages: Option<i64>,
    max_size: Option<String>,
    allow_duplicates: Option<bool>,
    compression: Option<bool>,
    duplicate_window: Option<String>,
}

/// A parsed policy; `None` fields fall back to the store settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoragePolicy {
    pub max_age: Option<Duration>,
    pub max_messages: Option<i64>,
    pub max_bytes: Option<i64>,
    /// Keep every notification, not only the latest per identifier.
    pub allow_duplicates: bool,
    pub compression: bool,
    pub duplicate_window: Option<Duration>,
}

/// Why a `storage_policy` block was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Not a mapping of the known fields with the right types.
    #[error(transparent)]
    Malformed(#[from] serde_yaml::Error),
    #[error("max_messages must be greater than zero")]
    MaxMessagesNotPositive,
    #[error("invalid duration '{literal}': expected <number><s|m|h|d|w>, e.g. 7d")]
    InvalidDuration { literal: String },
    #[error("invalid size '{literal}': expected <number>[K|Ki|M|Mi|G|Gi|T|Ti], e.g. 64Mi")]
    InvalidSize { literal: String },
}

/// `<int><s|m|h|d|w>`, unit case-insensitive, greater than zero.
pub(crate) fn parse_duration(literal: &str) -> Result<Duration, PolicyError> {
    let invalid = || PolicyError::InvalidDuration {
        literal: literal.to_owned(),
    };
    let trimmed = literal.trim();
    let split = trimmed.len().checked_sub(1).ok_or_else(invalid)?;
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit.to_ascii_lowercase().as_str() {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(invalid()),
    };
    match number.checked_mul(seconds) {
        Some(total) if total > 0 => Ok(Duration::from_secs(total)),
        _ => Err(invalid()),
    }
}

/// `<int><K|Ki|M|Mi|G|Gi|T|Ti>` (case-sensitive; K = 1000, Ki = 1024) or plain bytes.
pub(crate) fn parse_size(literal: &str) -> Result<i64, PolicyError> {
    let invalid = || PolicyError::InvalidSize {
        literal: literal.to_owned(),
    };
    let trimmed = literal.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    let number: i64 = number.parse().map_err(|_| invalid())?;
    let multiplier: i64 = match unit {
        "" => 1,
        "K" => 1_000,
        "Ki" => 1 << 10,
        "M" => 1_000_000,
        "Mi" => 1 << 20,
        "G" => 1_000_000_000,
        "Gi" => 1 << 30,
        "T" => 1_000_000_000_000,
        "Ti" => 1 << 40,
        _ => return Err(invalid()),
    };
    match number.checked_mul(multiplier) {
        Some(total) if total > 0 => Ok(total),
        _ => Err(invalid()),
    }
}

impl StoragePolicy {
    pub fn from_yaml(value: &serde_yaml::Value) -> Result<Self, PolicyError> {
        let raw: RawStoragePolicy = serde_yaml::from_value(value.clone())?;
        let max_messages = match raw.max_messages {
            Some(count) if count <= 0 => return Err(PolicyError::MaxMessagesNotPositive),
            other => other,
        };
        Ok(Self {
            max_age: raw
                .retention_time
                .as_deref()
                .map(parse_duration)
                .transpose()?,
            max_messages,
            max_bytes: raw.max_size.as_deref().map(parse_size).transpose()?,
            allow_duplicates: raw.allow_duplicates.unwrap_or(false),
            compression: raw.compression.unwrap_or(false),
            duplicate_window: raw
                .duplicate_window
                .as_deref()
                .map(parse_duration)
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_aviso_units() {
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_duration("2H").unwrap(), Duration::from_secs(7_200));
        assert_eq!(parse_duration("1w").unwrap(), Duration::from_secs(604_800));
        for bad in ["", "0d", "7", "d", "7y", "-1d", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_distinguish_decimal_and_binary_units() {
        assert_eq!(parse_size("64Mi").unwrap(), 64 * 1024 * 1024);
        assert_eq!(parse_size("1K").unwrap(), 1000);
        assert_eq!(parse_size("1Ki").unwrap(), 1024);
        assert_eq!(parse_size("512").unwrap(), 512);
        for bad in ["", "0Mi", "1mi", "1KB", "x", "-5"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn policy_parses_every_field_and_rejects_unknown_ones() {
        let yaml: serde_yaml::Value = serde_yaml::from_str(
            "retention_time: 7d\nmax_messages: 5000\nmax_size: 64Mi\nallow_duplicates: true\ncompression: true\nduplicate_window: 5m\n",
        )
        .unwrap();
        let policy = StoragePolicy::from_yaml(&yaml).unwrap();
        assert_eq!(policy.max_messages, Some(5000));
        assert_eq!(policy.max_bytes, Some(64 << 20));
        assert!(policy.allow_duplicates && policy.compression);
        assert_eq!(policy.duplicate_window, Some(Duration::from_secs(300)));
        let unknown: serde_yaml::Value = serde_yaml::from_str("max_sise: 1Mi\n").unwrap();
        assert!(
            StoragePolicy::from_yaml(&unknown)
                .unwrap_err()
                .to_string()
                .contains("max_sise")
        );
        let zero: serde_yaml::Value = serde_yaml::from_str("max_messages: 0\n").unwrap();
        assert!(StoragePolicy::from_yaml(&zero).is_err());
    }
}
