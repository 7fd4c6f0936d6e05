//! Spatial filters on watch/replay: `polygon` keeps notifications whose polygon intersects
//! the requested one, `point` those whose polygon contains it (bounding boxes first).

use geo::{Contains, Intersects};
use serde_json::Value;

use crate::domain::Polygon;

#[derive(Debug, Clone, PartialEq)]
pub enum SpatialFilter {
    Intersects(Polygon),
    Contains { lat: f64, lon: f64 },
}

/// Why `identifier.point` was refused: aviso's fixed sentence around the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "identifier.point must be a valid [lat,lon] coordinate pair or compatible string: {reason}"
)]
pub struct SpatialError {
    #[source]
    pub reason: PointError,
}

/// What is wrong with a point, in aviso's words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PointError {
    #[error("Point coordinate string cannot be empty")]
    EmptyText,
    #[error("Point must be in 'lat,lon' format")]
    SingleValue,
    #[error("Point must contain exactly two values: 'lat,lon'")]
    TooManyValues,
    #[error("Invalid latitude value: {text}")]
    UnparsableLatitude { text: String },
    #[error("Invalid longitude value: {text}")]
    UnparsableLongitude { text: String },
    #[error("latitude must be a number")]
    LatitudeNotNumber,
    #[error("longitude must be a number")]
    LongitudeNotNumber,
    #[error("coordinate must be a two-element array [lat,lon]")]
    NotAPair,
    #[error("point must be a two-element array [lat,lon] or a compatible string")]
    NeitherArrayNorText,
    #[error("latitude must be finite")]
    LatitudeNotFinite,
    #[error("longitude must be finite")]
    LongitudeNotFinite,
    #[error("latitude {lat} is outside the valid range [-90, 90]")]
    LatitudeOutOfRange { lat: f64 },
    #[error("longitude {lon} is outside the valid range [-180, 180]")]
    LongitudeOutOfRange { lon: f64 },
}

impl From<PointError> for SpatialError {
    fn from(reason: PointError) -> Self {
        Self { reason }
    }
}

fn parse_point_text(text: &str) -> Result<(f64, f64), PointError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(PointError::EmptyText);
    }
    let inner = trimmed
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(trimmed);
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [lat, lon] => Ok((
            lat.parse().map_err(|_| PointError::UnparsableLatitude {
                text: (*lat).to_owned(),
            })?,
            lon.parse().map_err(|_| PointError::UnparsableLongitude {
                text: (*lon).to_owned(),
            })?,
        )),
        [_] => Err(PointError::SingleValue),
        _ => Err(PointError::TooManyValues),
    }
}

fn parse_point_pair(pair: &[Value]) -> Result<(f64, f64), PointError> {
    let [lat, lon] = pair else {
        return Err(PointError::NotAPair);
    };
    Ok((
        lat.as_f64().ok_or(PointError::LatitudeNotNumber)?,
        lon.as_f64().ok_or(PointError::LongitudeNotNumber)?,
    ))
}

fn check_point(lat: f64, lon: f64) -> Result<(), PointError> {
    if !lat.is_finite() {
        return Err(PointError::LatitudeNotFinite);
    }
    if !lon.is_finite() {
        return Err(PointError::LongitudeNotFinite);
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(PointError::LatitudeOutOfRange { lat });
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(PointError::LongitudeOutOfRange { lon });
    }
    Ok(())
}

fn to_geo(polygon: &Polygon) -> geo::Polygon<f64> {
    let ring: Vec<geo::Coord<f64>> = polygon
        .vertices()
        .iter()
        .map(|&(lat, lon)| geo::coord! { x: lat, y: lon })
        .collect();
    geo::Polygon::new(geo::LineString::new(ring), Vec::new())
}

impl SpatialFilter {
    /// Parses `point`: `[lat,lon]`, or the string `lat,lon` with optional parentheses.
    pub fn parse_point(raw: &Value) -> Result<Self, SpatialError> {
        let (lat, lon) = match raw {
            Value::String(text) => parse_point_text(text)?,
            Value::Array(pair) => parse_point_pair(pair)?,
            _ => return Err(PointError::NeitherArrayNorText.into()),
        };
        check_point(lat, lon)?;
        Ok(SpatialFilter::Contains { lat, lon })
    }

    /// Whether a stored polygon passes; a notification without one never does.
    pub fn matches(&self, stored: Option<&Polygon>) -> bool {
        let Some(stored) = stored else {
            return false;
        };
        let (min_lat, min_lon, max_lat, max_lon) = stored.bounding_box();
        match self {
            SpatialFilter::Contains { lat, lon } => {
                (min_lat..=max_lat).contains(lat)
                    && (min_lon..=max_lon).contains(lon)
                    && to_geo(stored).contains(&geo::Point::new(*lat, *lon))
            }
            SpatialFilter::Intersects(requested) => {
                let (r_min_lat, r_min_lon, r_max_lat, r_max_lon) = requested.bounding_box();
                let boxes_overlap = r_min_lat <= max_lat
                    && min_lat <= r_max_lat
                    && r_min_lon <= max_lon
                    && min_lon <= r_max_lon;
                boxes_overlap && to_geo(stored).intersects(&to_geo(requested))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(lat: f64, lon: f64, size: f64) -> Polygon {
        Polygon::from_checked(vec![
            (lat, lon),
            (lat + size, lon),
            (lat + size, lon + size),
            (lat, lon + size),
            (lat, lon),
        ])
    }

    #[test]
    fn point_inside_matches_and_outside_does_not() {
        let stored = square(52.0, 13.0, 1.0);
        let point = |raw: &str| SpatialFilter::parse_point(&Value::String(raw.to_owned())).unwrap();
        assert!(point("52.5,13.5").matches(Some(&stored)));
        assert!(point("(52.5, 13.5)").matches(Some(&stored)));
        assert!(
            SpatialFilter::parse_point(&serde_json::json!([52.5, 13.5]))
                .unwrap()
                .matches(Some(&stored))
        );
        assert!(!point("10,10").matches(Some(&stored)));
        assert!(!point("52.5,13.5").matches(None));
    }

    #[test]
    fn invalid_points_are_rejected() {
        let prefix =
            "identifier.point must be a valid [lat,lon] coordinate pair or compatible string: ";
        let cases = [
            ("", "Point coordinate string cannot be empty"),
            ("1", "Point must be in 'lat,lon' format"),
            ("1,2,3", "Point must contain exactly two values: 'lat,lon'"),
            ("a,b", "Invalid latitude value: a"),
            ("91,0", "latitude 91 is outside the valid range [-90, 90]"),
            (
                "0,181",
                "longitude 181 is outside the valid range [-180, 180]",
            ),
            ("NaN,1", "latitude must be finite"),
        ];
        for (raw, reason) in cases {
            let error = SpatialFilter::parse_point(&Value::String(raw.to_owned())).unwrap_err();
            assert_eq!(error.to_string(), format!("{prefix}{reason}"), "{raw}");
        }
    }

    #[test]
    fn polygons_intersect_or_not() {
        let stored = square(52.0, 13.0, 1.0);
        assert!(SpatialFilter::Intersects(square(52.5, 13.5, 1.0)).matches(Some(&stored)));
        assert!(!SpatialFilter::Intersects(square(60.0, 13.5, 1.0)).matches(Some(&stored)));
    }
}
