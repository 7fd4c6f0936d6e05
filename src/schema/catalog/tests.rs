//! Catalog compilation, alias resolution and the identifier checks built on it.

use serde_json::{Value, json};

use super::*;
use crate::schema::{Operation, Rejection};

fn bundled() -> Catalog {
    Catalog::load(&[]).unwrap()
}

fn entries(yaml: &str) -> Vec<RawEntry> {
    let document: serde_yaml::Mapping = serde_yaml::from_str(yaml).unwrap();
    document
        .into_iter()
        .map(|(name, definition)| RawEntry {
            origin: "test.yaml".to_owned(),
            name: name.as_str().unwrap().to_owned(),
            definition,
        })
        .collect()
}

fn problems(yaml: &str) -> Vec<String> {
    let mut problems = Vec::new();
    Catalog::compile(&entries(yaml), &mut problems);
    problems.iter().map(ToString::to_string).collect()
}

fn object(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[test]
fn resolves_event_types_and_stream_keys_in_any_case() {
    let catalog = bundled();
    for name in ["diss", "DISS", "dissemination", "Dissemination", "DiSs"] {
        assert_eq!(
            catalog.resolve_stream(name).unwrap().stream_name(),
            "DISS",
            "{name}"
        );
    }
    for name in ["polygon", "POLYGON", "test_polygon"] {
        assert_eq!(
            catalog.resolve_stream(name).unwrap().stream_name(),
            "POLYGON",
            "{name}"
        );
    }
    assert!(catalog.resolve_stream("nope").is_none());
    assert!(catalog.resolve_stream("mars.*").is_none());
}

#[test]
fn resolves_ids_by_alias() {
    let catalog = bundled();
    for raw in ["diss@7", "dissemination@7", "DISS@7"] {
        let id = catalog.resolve_id(&raw.parse().unwrap()).unwrap();
        assert_eq!(id.to_string(), "DISS@7");
    }
    assert!(catalog.resolve_id(&"nosuch@1".parse().unwrap()).is_none());
}

#[test]
fn event_type_lookup_is_case_sensitive_and_sorted() {
    let catalog = bundled();
    assert!(catalog.event_type("mars").is_some());
    assert!(catalog.event_type("MARS").is_none());
    assert_eq!(
        catalog.event_type_names(),
        ["dissemination", "mars", "test_polygon"]
    );
}

#[test]
fn key_order_mistakes_are_reported_with_event_type_and_key() {
    let found = problems(
        "a:\n  topic: {base: a, key_order: []}\n  identifier:\n    x: {type: StringHandler, required: true}\n\
         b:\n  topic: {base: b, key_order: [x, x, y]}\n  identifier:\n    x: {type: StringHandler, required: true}\n    z: {type: IntHandler, required: false}\n",
    );
    let expected = [
        "Schema 'a' topic.key_order must not be empty",
        "Schema 'a' topic.key_order must include identifier 'x'",
        "Schema 'b' topic.key_order contains duplicate identifier 'x'",
        "Schema 'b' topic.key_order contains undeclared identifier 'y'",
        "Schema 'b' topic.key_order must include identifier 'z'",
    ];
    for message in expected {
        assert!(
            found.iter().any(|p| p.ends_with(message)),
            "missing {message:?} in {found:#?}"
        );
    }
}

#[test]
fn duplicate_bases_are_refused_case_insensitively() {
    let found = problems(
        "one:\n  topic: {base: mars, key_order: [x]}\n  identifier:\n    x: {type: StringHandler, required: true}\n\
         two:\n  topic: {base: MARS, key_order: [x]}\n  identifier:\n    x: {type: StringHandler, required: true}\n",
    );
    assert_eq!(
        found,
        ["test.yaml: Schemas 'one' and 'two' both define topic base 'MARS'"]
    );
}

#[test]
fn bad_handlers_policies_and_bases_are_reported() {
    let found = problems(
        "a:\n  topic: {base: 'a.b', key_order: [x]}\n  identifier:\n    x: {type: Foo, required: true}\n  storage_policy: {retention_time: 7y}\n  extra: 1\n\
         b:\n  topic: {base: b, key_order: [x]}\n  identifier:\n    x: {type: StringHandler, required: true}\n  storage_policy: {max_size: 10mb}\n",
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("Schema 'a' is invalid") && p.contains("extra")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("Schema 'b' storage_policy is invalid: invalid size '10mb'")),
        "{found:#?}"
    );
    let found = problems(
        "a:\n  topic: {base: 'a.b', key_order: [x]}\n  identifier:\n    x: {type: Foo, required: true}\n  storage_policy: {retention_time: 7y}\n",
    );
    assert!(
        found.iter().any(|p| p.contains("invalid topic base 'a.b'")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("identifier 'x': unknown handler type 'Foo'")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("storage_policy is invalid: invalid duration '7y'")),
        "{found:#?}"
    );
}

#[test]
fn notify_needs_every_key_and_nothing_else() {
    let catalog = bundled();
    let mars = catalog.event_type("mars").unwrap();
    let full = json!({"class":"od","expver":"1","domain":"G","date":"2025-07-06","time":"12:00","stream":"enfo","step":"007"});
    let identifier = mars.canonicalize(&object(full.clone())).unwrap();
    assert_eq!(
        mars.subject(&identifier).unwrap().as_str(),
        "mars.od.0001.g.20250706.1200.enfo.7"
    );
    let mut missing = object(full.clone());
    missing.remove("step");
    assert_eq!(
        mars.canonicalize(&missing).unwrap_err().to_string(),
        "Required field 'step' missing for notify operation"
    );
    let mut extra = object(full.clone());
    extra.insert("foo".into(), json!("x"));
    assert_eq!(
        mars.canonicalize(&extra).unwrap_err().to_string(),
        "Unknown field 'foo' provided for notify operation"
    );
    let mut numeric = object(full.clone());
    numeric.insert("step".into(), json!(5));
    assert_eq!(mars.canonicalize(&numeric).unwrap().values["step"], "5");
    let mut boolean = object(full.clone());
    boolean.insert("step".into(), json!(true));
    assert!(mars.canonicalize(&boolean).is_err());
    let mut null = object(full.clone());
    null.insert("step".into(), Value::Null);
    assert_eq!(
        mars.canonicalize(&null).unwrap_err().to_string(),
        "Field 'step' cannot be null"
    );
    let mut array = object(full.clone());
    array.insert("step".into(), json!([1]));
    assert_eq!(
        mars.canonicalize(&array).unwrap_err().to_string(),
        "Field 'step' must be a scalar value or constraint object, got array"
    );
    let mut constraint = object(full.clone());
    constraint.insert("step".into(), json!({"gte": 1}));
    assert_eq!(
        mars.canonicalize(&constraint).unwrap_err(),
        Rejection::ConstraintOnNotify { key: "step".into() }
    );
    let mut point = object(full);
    point.insert("point".into(), json!("1,2"));
    assert_eq!(
        mars.canonicalize(&point).unwrap_err(),
        Rejection::PointOnNotify
    );
}

#[test]
fn watch_filters_use_wildcards_constraints_and_required_keys() {
    let catalog = bundled();
    let mars = catalog.event_type("mars").unwrap();
    let filter = mars
        .filter(
            &object(json!({"class":"od","step":{"gte":4},"stream":"a.b"})),
            Operation::Watch,
        )
        .unwrap();
    assert_eq!(
        filter.subject.to_nats_filter().unwrap(),
        "mars.od.*.*.*.*.a%2Eb.*"
    );
    assert_eq!(filter.subject.logical_topic(), "mars.od.*.*.*.*.a.b.*");
    let values = |step: &str| -> Vec<String> {
        ["od", "0001", "g", "20250706", "1200", "a.b", step]
            .map(str::to_owned)
            .to_vec()
    };
    assert!(filter.matches(&values("4"), None));
    assert!(!filter.matches(&values("3"), None));
    assert_eq!(
        mars.filter(&object(json!({})), Operation::Watch)
            .unwrap_err()
            .to_string(),
        "Required field 'class' missing for watch operation"
    );
    assert_eq!(
        mars.filter(&object(json!({"class":"od","foo":"1"})), Operation::Replay)
            .unwrap_err()
            .to_string(),
        "Unknown field 'foo' provided for replay operation"
    );
}

#[test]
fn spatial_filters_replace_a_required_polygon() {
    let catalog = bundled();
    let polygon = catalog.event_type("test_polygon").unwrap();
    let filter = polygon
        .filter(&object(json!({"point":"52.5,13.5"})), Operation::Watch)
        .unwrap();
    assert!(filter.spatial.is_some());
    assert_eq!(
        polygon
            .filter(&object(json!({})), Operation::Watch)
            .unwrap_err()
            .to_string(),
        "Required field 'polygon' missing for watch operation"
    );
    let both = json!({"point":"1,2","polygon":"(1,2,3,4,5,6,1,2)"});
    assert_eq!(
        polygon.filter(&object(both), Operation::Watch).unwrap_err(),
        Rejection::PolygonAndPoint
    );
}

#[test]
fn describes_the_schema_endpoint_shape() {
    let catalog = bundled();
    let described = catalog.event_type("test_polygon").unwrap().describe();
    assert_eq!(described["payload"], json!({"required": true}));
    assert_eq!(described["identifier"]["polygon"]["type"], "PolygonHandler");
}

#[test]
fn names_tidings_and_nats_use_are_reserved_in_any_case() {
    for base in [
        "tidings",
        "TIDINGS",
        "Tidings",
        "tidings_audit",
        "TIDINGS_AUDIT",
        "tidings_destinations",
        "Tidings_Anything",
        "$JS",
        "$sys",
    ] {
        let found = problems(&format!(
            "forged:\n  topic: {{base: '{base}', key_order: [x]}}\n  identifier:\n    x: {{type: StringHandler, required: true}}\n"
        ));
        assert!(
            found
                .iter()
                .any(|problem| problem.contains(&format!("topic base '{base}' is reserved"))),
            "{base}: {found:?}"
        );
    }
    for base in ["tidingsx", "my_tidings", "tidings-feed"] {
        let found = problems(&format!(
            "fine:\n  topic: {{base: '{base}', key_order: [x]}}\n  identifier:\n    x: {{type: StringHandler, required: true}}\n"
        ));
        assert!(found.is_empty(), "{base}: {found:?}");
    }
}

#[test]
fn every_internal_name_falls_under_the_reserved_bases() {
    let retraction_root = crate::domain::RETRACTION_SUBJECT.split('.').next().unwrap();
    assert!(reserved_base(retraction_root).is_some());
    assert!(reserved_base(crate::domain::AUDIT_BASE).is_some());
    assert!(
        reserved_base(&crate::domain::StreamKey::new(crate::domain::AUDIT_BASE).stream_name())
            .is_some()
    );
}
