//! `PolygonHandler`: a closed ring of at least four `(lat, lon)` pairs, first == last,
//! given as `[[lat,lon],...]` or as the string `"(lat,lon,lat,lon,...)"` (parentheses
//! optional). The polygon is not part of the subject; it travels in the `spatial_*` headers.

use serde_json::Value;

use super::ValueError;
use crate::domain::Polygon;

/// Why a polygon value was refused, in aviso's words; [`parse`] puts the field in front.
#[derive(Debug, thiserror::Error)]
enum PolygonError {
    #[error("polygon coordinate string is empty")]
    EmptyText,
    #[error("invalid polygon JSON array: {0}")]
    InvalidJson(#[source] serde_json::Error),
    #[error("polygon coordinate string has opening '(' but is missing the closing ')'")]
    MissingClosingParenthesis,
    #[error("polygon coordinate string has closing ')' but is missing the opening '('")]
    MissingOpeningParenthesis,
    #[error(
        "polygon coordinate string must have at most one outer pair of parentheses; nested '(' or ')' are not allowed"
    )]
    NestedParentheses,
    #[error("polygon coordinate string is empty between parentheses")]
    EmptyBetweenParentheses,
    #[error("polygon coordinates must be in lat,lon pairs (got an odd number of values)")]
    OddValueCount,
    #[error("could not parse latitude '{text}' as a number")]
    UnparsableLatitude { text: String },
    #[error("could not parse longitude '{text}' as a number")]
    UnparsableLongitude { text: String },
    /// A vertex of the string form outside the valid ranges.
    #[error(transparent)]
    Coordinate(#[from] CoordinateError),
    #[error("polygon must be an array of [lat,lon] points or a compatible string")]
    NotAnArray,
    #[error("polygon point {index} is invalid: {source}")]
    InvalidPoint {
        index: usize,
        source: CoordinateError,
    },
    #[error(
        "polygon must have at least 4 coordinate pairs (3 unique vertices plus a closing repeat of the first vertex)"
    )]
    TooFewPairs,
    #[error("polygon must be closed (first and last coordinates must be identical)")]
    NotClosed,
}

/// Why one vertex was refused.
#[derive(Debug, thiserror::Error)]
enum CoordinateError {
    #[error("coordinate must be a two-element array [lat,lon]")]
    NotAPair,
    #[error("latitude must be a number")]
    LatitudeNotNumber,
    #[error("longitude must be a number")]
    LongitudeNotNumber,
    #[error("latitude {lat} is outside the valid range [-90, 90]")]
    LatitudeOutOfRange { lat: f64 },
    #[error("longitude {lon} is outside the valid range [-180, 180]")]
    LongitudeOutOfRange { lon: f64 },
}

fn check_latitude(lat: f64) -> Result<f64, CoordinateError> {
    if lat.is_finite() && (-90.0..=90.0).contains(&lat) {
        Ok(lat)
    } else {
        Err(CoordinateError::LatitudeOutOfRange { lat })
    }
}

fn check_longitude(lon: f64) -> Result<f64, CoordinateError> {
    if lon.is_finite() && (-180.0..=180.0).contains(&lon) {
        Ok(lon)
    } else {
        Err(CoordinateError::LongitudeOutOfRange { lon })
    }
}

fn check_ring(vertices: Vec<(f64, f64)>) -> Result<Polygon, PolygonError> {
    if vertices.len() < 4 {
        return Err(PolygonError::TooFewPairs);
    }
    if vertices.first() != vertices.last() {
        return Err(PolygonError::NotClosed);
    }
    Ok(Polygon::from_checked(vertices))
}

fn parse_text_inner(value: &str) -> Result<Polygon, PolygonError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(PolygonError::EmptyText);
    }
    if trimmed.starts_with('[') {
        let json: Value = serde_json::from_str(trimmed).map_err(PolygonError::InvalidJson)?;
        return parse_json_inner(&json);
    }
    let inner = match (trimmed.strip_prefix('('), trimmed.strip_suffix(')')) {
        (Some(_), Some(_)) => &trimmed[1..trimmed.len() - 1],
        (Some(_), None) => return Err(PolygonError::MissingClosingParenthesis),
        (None, Some(_)) => return Err(PolygonError::MissingOpeningParenthesis),
        (None, None) => trimmed,
    };
    if inner.contains(['(', ')']) {
        return Err(PolygonError::NestedParentheses);
    }
    if inner.trim().is_empty() {
        return Err(PolygonError::EmptyBetweenParentheses);
    }
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    if !parts.len().is_multiple_of(2) {
        return Err(PolygonError::OddValueCount);
    }
    let mut vertices = Vec::with_capacity(parts.len() / 2);
    for pair in parts.chunks(2) {
        let lat: f64 = pair[0]
            .parse()
            .map_err(|_| PolygonError::UnparsableLatitude {
                text: pair[0].to_owned(),
            })?;
        let lon: f64 = pair[1]
            .parse()
            .map_err(|_| PolygonError::UnparsableLongitude {
                text: pair[1].to_owned(),
            })?;
        vertices.push((check_latitude(lat)?, check_longitude(lon)?));
    }
    check_ring(vertices)
}

fn parse_coordinate(value: &Value) -> Result<(f64, f64), CoordinateError> {
    let Some([lat, lon]) = value.as_array().map(Vec::as_slice) else {
        return Err(CoordinateError::NotAPair);
    };
    let lat = lat.as_f64().ok_or(CoordinateError::LatitudeNotNumber)?;
    let lon = lon.as_f64().ok_or(CoordinateError::LongitudeNotNumber)?;
    Ok((check_latitude(lat)?, check_longitude(lon)?))
}

fn parse_json_inner(value: &Value) -> Result<Polygon, PolygonError> {
    let Some(points) = value.as_array() else {
        return Err(PolygonError::NotAnArray);
    };
    let vertices = points
        .iter()
        .enumerate()
        .map(|(index, point)| {
            parse_coordinate(point).map_err(|source| PolygonError::InvalidPoint { index, source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_ring(vertices)
}

/// Parses either accepted form of `key`'s value.
pub(super) fn parse(key: &str, value: &Value) -> Result<Polygon, ValueError> {
    match value {
        Value::String(text) => parse_text_inner(text),
        other => parse_json_inner(other),
    }
    .map_err(|inner| format!("field '{key}' must be a valid polygon: {inner}").into())
}
