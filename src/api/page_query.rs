//! The query parameters of a page (`limit`, `dir`, `next`, `prev`, `time[gte]`,
//! `time[lte]`) and the page body: the HTTP face of [`crate::ops::browse`].

use super::cursor::{InstantError, parse_instant};
use crate::ops::browse::{Cursor, DEFAULT_LIMIT, Direction, MAX_LIMIT, PageRequest};

/// The parameters a page takes; every other one is an identifier filter.
const PAGE_PARAMETERS: [&str; 6] = ["limit", "dir", "next", "prev", "time[gte]", "time[lte]"];

/// Why the page parameters of a query were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageQueryError {
    #[error("query parameter '{0}' is given more than once")]
    Repeated(String),
    #[error("limit must be an integer from 1 to {MAX_LIMIT}, got '{0}'")]
    Limit(String),
    #[error("dir must be 'asc' or 'desc', got '{0}'")]
    Direction(String),
    #[error("give either next or prev, not both")]
    BothCursors,
    #[error("{0} is not a cursor this server issued")]
    ForeignCursor(String),
    #[error("{bound} must be a datetime or unix timestamp: {source}")]
    Time { bound: String, source: InstantError },
}

/// Takes the page parameters out of query pairs, leaving the rest (identifier filters) in
/// place.
pub(crate) fn take_page_request(
    pairs: &mut Vec<(String, String)>,
) -> Result<PageRequest, PageQueryError> {
    let mut request = PageRequest {
        direction: Direction::Desc,
        cursor: None,
        limit: DEFAULT_LIMIT,
        from_time: None,
        to_time: None,
    };
    let mut seen = Vec::new();
    let mut rest = Vec::new();
    for (key, value) in pairs.drain(..) {
        if !PAGE_PARAMETERS.contains(&key.as_str()) {
            rest.push((key, value));
            continue;
        }
        if seen.contains(&key) {
            return Err(PageQueryError::Repeated(key));
        }
        seen.push(key.clone());
        apply(&mut request, &key, value)?;
    }
    *pairs = rest;
    Ok(request)
}

/// Sets one page parameter.
fn apply(request: &mut PageRequest, key: &str, value: String) -> Result<(), PageQueryError> {
    match key {
        "limit" => {
            request.limit = value
                .parse()
                .ok()
                .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                .ok_or(PageQueryError::Limit(value))?;
        }
        "dir" => {
            request.direction = match value.as_str() {
                "asc" => Direction::Asc,
                "desc" => Direction::Desc,
                _ => return Err(PageQueryError::Direction(value)),
            };
        }
        "next" | "prev" => {
            if request.cursor.is_some() {
                return Err(PageQueryError::BothCursors);
            }
            let cursor =
                Cursor::decode(&value).ok_or_else(|| PageQueryError::ForeignCursor(key.into()))?;
            request.cursor = Some(cursor);
        }
        bound => {
            let time = parse_instant(&value).map_err(|source| PageQueryError::Time {
                bound: bound.to_owned(),
                source,
            })?;
            if bound == "time[gte]" {
                request.from_time = Some(time);
            } else {
                request.to_time = Some(time);
            }
        }
    }
    Ok(())
}

/// `{"models":[...],"pagination":{"next":...,"prev":...}}` from rendered CloudEvents.
pub(crate) fn page_json(models: &[bytes::Bytes], next: Option<&str>, prev: Option<&str>) -> String {
    let mut body = String::from("{\"models\":[");
    for (index, model) in models.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str(&String::from_utf8_lossy(model));
    }
    body.push_str("],\"pagination\":");
    body.push_str(&serde_json::json!({"next": next, "prev": prev}).to_string());
    body.push('}');
    body
}
