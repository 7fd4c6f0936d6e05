//! `PolygonHandler`: a closed ring of at least four `(lat, lon)` pairs, first == last,
//! given as `[[lat,lon],...]` or as the string `"(lat,lon,lat,lon,...)"` (parentheses
//! optional). The polygon is not part of the subject; it travels in the `spatial_*` headers.

use serde_json::Value;

use super::ValueError;
use crate::domain::Polygon;

fn wrap(key: &str, inner: &str) -> ValueError {
    format!("field '{key}' must be a valid polygon: {inner}").into()
}

fn check_latitude(lat: f64) -> Result<f64, String> {
    if lat.is_finite() && (-90.0..=90.0).contains(&lat) {
        Ok(lat)
    } else {
        Err(format!(
            "latitude {lat} is outside the valid range [-90, 90]"
        ))
    }
}

fn check_longitude(lon: f64) -> Result<f64, String> {
    if lon.is_finite() && (-180.0..=180.0).contains(&lon) {
        Ok(lon)
    } else {
        Err(format!(
            "longitude {lon} is outside the valid range [-180, 180]"
        ))
    }
}

fn check_ring(vertices: Vec<(f64, f64)>) -> Result<Polygon, String> {
    if vertices.len() < 4 {
        return Err("polygon must have at least 4 coordinate pairs (3 unique vertices plus a closing repeat of the first vertex)".to_owned());
    }
    if vertices.first() != vertices.last() {
        return Err(
            "polygon must be closed (first and last coordinates must be identical)".to_owned(),
        );
    }
    Ok(Polygon::from_checked(vertices))
}

fn parse_text_inner(value: &str) -> Result<Polygon, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("polygon coordinate string is empty".to_owned());
    }
    if trimmed.starts_with('[') {
        let json: Value = serde_json::from_str(trimmed)
            .map_err(|error| format!("invalid polygon JSON array: {error}"))?;
        return parse_json_inner(&json);
    }
    let inner = match (trimmed.strip_prefix('('), trimmed.strip_suffix(')')) {
        (Some(_), Some(_)) => &trimmed[1..trimmed.len() - 1],
        (Some(_), None) => {
            return Err(
                "polygon coordinate string has opening '(' but is missing the closing ')'"
                    .to_owned(),
            );
        }
        (None, Some(_)) => {
            return Err(
                "polygon coordinate string has closing ')' but is missing the opening '('"
                    .to_owned(),
            );
        }
        (None, None) => trimmed,
    };
    if inner.contains(['(', ')']) {
        return Err("polygon coordinate string must have at most one outer pair of parentheses; nested '(' or ')' are not allowed".to_owned());
    }
    if inner.trim().is_empty() {
        return Err("polygon coordinate string is empty between parentheses".to_owned());
    }
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    if !parts.len().is_multiple_of(2) {
        return Err(
            "polygon coordinates must be in lat,lon pairs (got an odd number of values)".to_owned(),
        );
    }
    let mut vertices = Vec::with_capacity(parts.len() / 2);
    for pair in parts.chunks(2) {
        let lat: f64 = pair[0]
            .parse()
            .map_err(|_| format!("could not parse latitude '{}' as a number", pair[0]))?;
        let lon: f64 = pair[1]
            .parse()
            .map_err(|_| format!("could not parse longitude '{}' as a number", pair[1]))?;
        vertices.push((check_latitude(lat)?, check_longitude(lon)?));
    }
    check_ring(vertices)
}

fn parse_coordinate(value: &Value) -> Result<(f64, f64), String> {
    let Some([lat, lon]) = value.as_array().map(Vec::as_slice) else {
        return Err("coordinate must be a two-element array [lat,lon]".to_owned());
    };
    let lat = lat.as_f64().ok_or("latitude must be a number")?;
    let lon = lon.as_f64().ok_or("longitude must be a number")?;
    Ok((check_latitude(lat)?, check_longitude(lon)?))
}

fn parse_json_inner(value: &Value) -> Result<Polygon, String> {
    let Some(points) = value.as_array() else {
        return Err(
            "polygon must be an array of [lat,lon] points or a compatible string".to_owned(),
        );
    };
    let vertices = points
        .iter()
        .enumerate()
        .map(|(index, point)| {
            parse_coordinate(point)
                .map_err(|error| format!("polygon point {index} is invalid: {error}"))
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
    .map_err(|inner| wrap(key, &inner))
}
