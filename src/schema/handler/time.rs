//! `TimeHandler`: `H`, `HH`, `H:MM`, `HH:MM` or `HHMM`, canonically `HHMM`.

use super::HandlerResult;

fn digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn canonicalize(key: &str, value: &str) -> HandlerResult {
    let (hours, minutes) = if value.contains(':') {
        match value.split_once(':') {
            Some((h, m))
                if (1..=2).contains(&h.len()) && m.len() == 2 && digits(h) && digits(m) =>
            {
                (h, m)
            }
            _ => {
                return Err(format!(
                    "Field '{key}' has invalid HH:MM format '{value}'. Expected format: HH:MM (e.g., 14:30, 9:05)"
                )
                .into());
            }
        }
    } else if (1..=2).contains(&value.len()) && digits(value) {
        (value, "0")
    } else if value.len() == 4 {
        if !digits(value) {
            return Err(format!(
                "Field '{key}' has invalid HHMM format '{value}'. Expected format: HHMM with exactly 4 digits (e.g., 1430, 0905)"
            )
            .into());
        }
        value.split_at(2)
    } else {
        return Err(format!(
            "Field '{key}' has invalid time format '{value}'. Expected: H, HH, HH:MM, or HHMM"
        )
        .into());
    };
    let hours: u32 = hours.parse().unwrap_or(u32::MAX);
    let minutes: u32 = minutes.parse().unwrap_or(u32::MAX);
    if hours > 23 {
        return Err(format!(
            "Field '{key}' has invalid hours: {hours}. Hours must be 0-23 in 24-hour format"
        )
        .into());
    }
    if minutes > 59 {
        return Err(
            format!("Field '{key}' has invalid minutes: {minutes}. Minutes must be 0-59").into(),
        );
    }
    Ok(format!("{hours:02}{minutes:02}"))
}
