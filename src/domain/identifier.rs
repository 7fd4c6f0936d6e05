//! A validated, canonical identifier: what a notification is filed under.

use std::collections::BTreeMap;

/// A closed ring of `(lat, lon)` vertices, first == last, at least four of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    vertices: Vec<(f64, f64)>,
}

impl Polygon {
    /// Wraps vertices the polygon handler has already checked (closed, in range, ≥ 4).
    pub fn from_checked(vertices: Vec<(f64, f64)>) -> Self {
        Self { vertices }
    }

    pub fn vertices(&self) -> &[(f64, f64)] {
        &self.vertices
    }

    /// `(min_lat, min_lon, max_lat, max_lon)`.
    pub fn bounding_box(&self) -> (f64, f64, f64, f64) {
        let mut bbox = (
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        );
        for &(lat, lon) in &self.vertices {
            bbox.0 = bbox.0.min(lat);
            bbox.1 = bbox.1.min(lon);
            bbox.2 = bbox.2.max(lat);
            bbox.3 = bbox.3.max(lon);
        }
        bbox
    }

    /// The JSON form aviso 0.13 puts in headers and CloudEvents: `[[lat,lon],...]`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.vertices
                .iter()
                .map(|&(lat, lon)| serde_json::json!([lat, lon]))
                .collect(),
        )
    }
}

/// Canonical scalar values by key (sorted, as aviso renders them) plus an optional polygon,
/// which is not part of the subject and travels in message headers instead.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CanonicalIdentifier {
    pub values: BTreeMap<String, String>,
    pub polygon: Option<(String, Polygon)>,
}

impl CanonicalIdentifier {
    /// The identifier as CloudEvent `data.identifier` carries it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut object: serde_json::Map<String, serde_json::Value> = self
            .values
            .iter()
            .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
            .collect();
        if let Some((key, polygon)) = &self.polygon {
            object.insert(key.clone(), polygon.to_json());
        }
        serde_json::Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounding_box_spans_all_vertices() {
        let polygon =
            Polygon::from_checked(vec![(52.4, 13.4), (52.6, 13.4), (52.6, 13.6), (52.4, 13.4)]);
        assert_eq!(polygon.bounding_box(), (52.4, 13.4, 52.6, 13.6));
    }

    #[test]
    fn renders_values_and_polygon_as_json() {
        let mut identifier = CanonicalIdentifier::default();
        identifier.values.insert("date".into(), "20250706".into());
        identifier.polygon = Some((
            "polygon".into(),
            Polygon::from_checked(vec![(1.0, 2.0), (3.0, 4.0), (5.0, 2.0), (1.0, 2.0)]),
        ));
        assert_eq!(
            identifier.to_json().to_string(),
            r#"{"date":"20250706","polygon":[[1.0,2.0],[3.0,4.0],[5.0,2.0],[1.0,2.0]]}"#
        );
    }
}
