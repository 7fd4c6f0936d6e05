//! Pages over a list already in display order, with opaque cursors: `next` points past the
//! last item shown, `prev` before the first. A cursor is the position (time, sequence, id)
//! of that item, so a page stays put while records are added elsewhere in the list.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::Value;

use crate::api::error::{ApiError, DeliveryError};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Where an item sits in a list's order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub(super) struct Position(i64, u64, String);

impl Position {
    pub(super) fn new(time_millis: i64, sequence: u64, id: String) -> Self {
        Self(time_millis, sequence, id)
    }

    /// A position by number alone (attempts).
    pub(super) fn number(number: u64) -> Self {
        Self(0, number, String::new())
    }

    fn token(&self, marker: char) -> Option<String> {
        let json = serde_json::to_vec(self).ok()?;
        Some(format!("{marker}{}", URL_SAFE_NO_PAD.encode(json)))
    }

    fn parse(token: &str, marker: char) -> Option<Self> {
        let encoded = token.strip_prefix(marker)?;
        let json = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        serde_json::from_slice(&json).ok()
    }
}

#[derive(Debug, Clone)]
enum Cursor {
    /// The items after this position (`next`).
    After(Position),
    /// The items before it (`prev`).
    Before(Position),
}

/// Size and cursor of a page.
#[derive(Debug, Clone, Default)]
pub(super) struct Page {
    limit: Option<usize>,
    cursor: Option<Cursor>,
}

/// The page parameters and the route's own, each at most once.
#[derive(Debug, Default)]
pub(super) struct PageQuery {
    pub(super) page: Page,
    pub(super) filters: Vec<(String, String)>,
}

fn invalid(message: String) -> ApiError {
    DeliveryError::Invalid(message).into()
}

impl PageQuery {
    /// Reads `limit`, `next`, `prev` and the `filters` named; anything else is a 400.
    pub(super) fn parse(pairs: Vec<(String, String)>, filters: &[&str]) -> Result<Self, ApiError> {
        let mut query = Self::default();
        let mut seen = std::collections::HashSet::new();
        for (key, value) in pairs {
            if !seen.insert(key.clone()) {
                return Err(invalid(format!(
                    "query parameter '{key}' is given more than once"
                )));
            }
            match key.as_str() {
                "limit" => {
                    let limit = value
                        .parse()
                        .ok()
                        .filter(|limit| (1..=MAX_LIMIT).contains(limit));
                    query.page.limit = Some(limit.ok_or_else(|| {
                        invalid(format!(
                            "limit must be an integer from 1 to {MAX_LIMIT}, got '{value}'"
                        ))
                    })?);
                }
                "next" | "prev" => {
                    if query.page.cursor.is_some() {
                        return Err(invalid("give next or prev, not both".to_owned()));
                    }
                    let next = key == "next";
                    let position = Position::parse(&value, if next { 'n' } else { 'p' })
                        .ok_or_else(|| {
                            invalid(format!("{key} is not a cursor this server issued"))
                        })?;
                    query.page.cursor = Some(if next {
                        Cursor::After(position)
                    } else {
                        Cursor::Before(position)
                    });
                }
                other if filters.contains(&other) => query.filters.push((key, value)),
                _ => {
                    let mut accepted: Vec<&str> = filters.to_vec();
                    accepted.extend(["limit", "next", "prev"]);
                    return Err(invalid(format!(
                        "unknown query parameter '{key}'; accepted: {}",
                        accepted.join(", ")
                    )));
                }
            }
        }
        Ok(query)
    }
}

/// The page of `items` (in display order: ascending positions, or descending when
/// `descending`) the cursor points at, as JSON, and the cursors around it.
pub(super) fn page<T>(
    items: Vec<T>,
    page: &Page,
    descending: bool,
    position: impl Fn(&T) -> Position,
    render: impl Fn(T) -> Value,
) -> (Vec<Value>, Option<String>, Option<String>) {
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT);
    // Whether `item` lies beyond `mark` in display order.
    let beyond = |item: &T, mark: &Position| {
        let here = position(item);
        if descending {
            here < *mark
        } else {
            here > *mark
        }
    };
    let (start, end) = match &page.cursor {
        None => (0, limit.min(items.len())),
        Some(Cursor::After(mark)) => {
            let start = items
                .iter()
                .position(|item| beyond(item, mark))
                .unwrap_or(items.len());
            (start, (start + limit).min(items.len()))
        }
        Some(Cursor::Before(mark)) => {
            let end = items
                .iter()
                .position(|item| beyond(item, mark) || position(item) == *mark)
                .unwrap_or(items.len());
            (end.saturating_sub(limit), end)
        }
    };
    let next = (end < items.len())
        .then(|| end.checked_sub(1).and_then(|last| items.get(last)))
        .flatten()
        .and_then(|item| position(item).token('n'));
    let prev = (start > 0)
        .then(|| items.get(start))
        .flatten()
        .and_then(|item| position(item).token('p'));
    let shown = items
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(render)
        .collect();
    (shown, next, prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(descending: bool) {
        let mut items: Vec<u64> = (1..=7).collect();
        if descending {
            items.reverse();
        }
        let at = |n: &u64| Position::number(*n);
        let query = |pairs: &[(&str, &str)]| {
            PageQuery::parse(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                &[],
            )
            .unwrap()
            .page
        };
        let (first, next, prev) = page(
            items.clone(),
            &query(&[("limit", "3")]),
            descending,
            at,
            Value::from,
        );
        assert_eq!(first.len(), 3);
        assert!(prev.is_none());
        let next = next.unwrap();
        let (second, _, back) = page(
            items.clone(),
            &query(&[("limit", "3"), ("next", &next)]),
            descending,
            at,
            Value::from,
        );
        assert_eq!(second[0], items[3]);
        let (again, _, _) = page(
            items.clone(),
            &query(&[("limit", "3"), ("prev", &back.unwrap())]),
            descending,
            at,
            Value::from,
        );
        assert_eq!(again, first);
    }

    #[test]
    fn next_and_prev_walk_both_orders() {
        walk(false);
        walk(true);
    }

    #[test]
    fn refuses_foreign_cursors_unknown_and_repeated_keys() {
        for pairs in [
            vec![("next", "garbage")],
            vec![("limit", "0")],
            vec![("limit", "1"), ("limit", "2")],
            vec![("colour", "red")],
        ] {
            let pairs = pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            assert!(PageQuery::parse(pairs, &[]).is_err());
        }
    }
}
