//! Accept/reject rows of aviso's handler table (reference section 5.2), messages verbatim.

use super::*;

fn rule(yaml: &str) -> KeyRule {
    KeyRule::from_yaml(&serde_yaml::from_str(yaml).unwrap()).unwrap()
}

fn accepts(rule: &KeyRule, cases: &[(&str, &str)]) {
    for (raw, canonical) in cases {
        assert_eq!(
            rule.canonicalize("k", raw).as_deref(),
            Ok(*canonical),
            "{raw:?}"
        );
    }
}

fn rejects(rule: &KeyRule, raw: &str, message: &str) {
    assert_eq!(
        rule.canonicalize("k", raw).unwrap_err().message,
        message,
        "{raw:?}"
    );
}

#[test]
fn string_keeps_value_and_counts_bytes() {
    let string = rule("{type: StringHandler, max_length: 2, required: true}");
    accepts(&string, &[("od", "od"), ("a", "a")]);
    rejects(&string, "", "Field 'k' cannot be empty");
    rejects(
        &string,
        "odd",
        "Field 'k' exceeds maximum length of 2 characters, got: 3",
    );
    rejects(
        &string,
        "é1",
        "Field 'k' exceeds maximum length of 2 characters, got: 3",
    );
}

#[test]
fn int_drops_leading_zeros_and_checks_range() {
    let int = rule("{type: IntHandler, range: [0, 100], required: false}");
    accepts(
        &int,
        &[("007", "7"), ("+5", "5"), ("0", "0"), ("100", "100")],
    );
    rejects(&int, "4.0", "Field 'k' must be a valid integer, got: '4.0'");
    rejects(&int, "", "Field 'k' must be a valid integer, got: ''");
    rejects(
        &int,
        "101",
        "Field 'k' value 101 is outside allowed range [0, 100]",
    );
    rejects(
        &int,
        "-1",
        "Field 'k' value -1 is outside allowed range [0, 100]",
    );
    let error = int.canonicalize("k", "x").unwrap_err();
    assert_eq!(
        error.details.as_deref(),
        Some("invalid digit found in string")
    );
}

#[test]
fn float_uses_shortest_display() {
    let float = rule("{type: FloatHandler, range: [0, 200], required: false}");
    accepts(
        &float,
        &[
            ("5.0", "5"),
            ("1e2", "100"),
            ("42.5", "42.5"),
            ("3.10", "3.1"),
        ],
    );
    rejects(
        &float,
        "abc",
        "Field 'k' must be a valid number, got: 'abc'",
    );
    rejects(
        &float,
        "NaN",
        "Field 'k' must be a finite number, got: 'NaN'",
    );
    rejects(
        &float,
        "inf",
        "Field 'k' must be a finite number, got: 'inf'",
    );
    rejects(
        &float,
        "200.5",
        "Field 'k' value 200.5 is outside allowed range [0, 200]",
    );
}

#[test]
fn enum_matches_case_insensitively_and_lowercases() {
    let enumeration = rule("{type: EnumHandler, values: [g, A], required: false}");
    accepts(&enumeration, &[("G", "g"), ("a", "a"), ("A", "a")]);
    rejects(
        &enumeration,
        "z",
        "Field 'k' has invalid value 'z'. Allowed: [g, A]",
    );
}

#[test]
fn date_accepts_three_forms_and_renders_the_canonical_one() {
    let compact = rule("{type: DateHandler, canonical_format: '%Y%m%d', required: false}");
    accepts(
        &compact,
        &[
            ("2025-07-06", "20250706"),
            ("20250706", "20250706"),
            ("2025-187", "20250706"),
        ],
    );
    let dashed = rule("{type: DateHandler, canonical_format: '%Y-%m-%d', required: false}");
    accepts(&dashed, &[("20250706", "2025-07-06")]);
    let default = rule("{type: DateHandler, required: false}");
    accepts(&default, &[("2025-07-06", "20250706")]);
    for bad in [
        "2025-02-30",
        "2025-13-01",
        "06/07/2025",
        "2025-367",
        "",
        "2025-7-6",
    ] {
        let error = compact.canonicalize("k", bad).unwrap_err();
        assert_eq!(error.message, "Failed to parse date value for field 'k'");
        assert_eq!(
            error.details.unwrap(),
            format!(
                "Field 'k' contains invalid date '{bad}'. Expected: YYYY-MM-DD, YYYYMMDD, or YYYY-DDD"
            )
        );
    }
}

#[test]
fn time_accepts_hours_and_minutes_forms() {
    let time = rule("{type: TimeHandler, required: false}");
    accepts(
        &time,
        &[
            ("12", "1200"),
            ("9", "0900"),
            ("12:00", "1200"),
            ("9:05", "0905"),
            ("0905", "0905"),
            ("23:59", "2359"),
        ],
    );
    rejects(
        &time,
        "24",
        "Field 'k' has invalid hours: 24. Hours must be 0-23 in 24-hour format",
    );
    rejects(
        &time,
        "12:60",
        "Field 'k' has invalid minutes: 60. Minutes must be 0-59",
    );
    rejects(
        &time,
        "930",
        "Field 'k' has invalid time format '930'. Expected: H, HH, HH:MM, or HHMM",
    );
    rejects(
        &time,
        "",
        "Field 'k' has invalid time format ''. Expected: H, HH, HH:MM, or HHMM",
    );
    rejects(
        &time,
        "12:5",
        "Field 'k' has invalid HH:MM format '12:5'. Expected format: HH:MM (e.g., 14:30, 9:05)",
    );
    rejects(
        &time,
        "12a0",
        "Field 'k' has invalid HHMM format '12a0'. Expected format: HHMM with exactly 4 digits (e.g., 1430, 0905)",
    );
}

#[test]
fn expver_pads_digits_and_lowercases_the_rest() {
    let expver = rule("{type: ExpverHandler, default: '1', required: false}");
    accepts(
        &expver,
        &[
            ("1", "0001"),
            ("0001", "0001"),
            ("12345", "12345"),
            ("PROD", "prod"),
            ("", "0001"),
        ],
    );
    let without_default = rule("{type: ExpverHandler, required: false}");
    rejects(&without_default, "", "Field 'k' cannot be empty");
}

#[test]
fn polygon_accepts_string_and_array_forms() {
    let closed = "(52.5,13.4,52.6,13.5,52.4,13.6,52.5,13.4)";
    let polygon = KeyRule::parse_polygon("polygon", &serde_json::json!(closed)).unwrap();
    assert_eq!(polygon.vertices().len(), 4);
    let array = serde_json::json!([[52.5, 13.4], [52.6, 13.5], [52.4, 13.6], [52.5, 13.4]]);
    assert_eq!(KeyRule::parse_polygon("polygon", &array).unwrap(), polygon);
    let bare = "52.5,13.4,52.6,13.5,52.4,13.6,52.5,13.4";
    assert_eq!(
        KeyRule::parse_polygon("polygon", &serde_json::json!(bare)).unwrap(),
        polygon
    );
}

#[test]
fn polygon_rejections_name_the_field_and_the_reason() {
    let cases = [
        ("", "polygon coordinate string is empty"),
        (
            "()",
            "polygon coordinate string is empty between parentheses",
        ),
        (
            "(1,2,3,4,5,6,1,2",
            "polygon coordinate string has opening '(' but is missing the closing ')'",
        ),
        (
            "1,2,3,4,5,6,1,2)",
            "polygon coordinate string has closing ')' but is missing the opening '('",
        ),
        (
            "((1,2,3,4,5,6,1,2))",
            "polygon coordinate string must have at most one outer pair of parentheses; nested '(' or ')' are not allowed",
        ),
        (
            "(1,2,3)",
            "polygon coordinates must be in lat,lon pairs (got an odd number of values)",
        ),
        ("(x,2,3,4)", "could not parse latitude 'x' as a number"),
        ("(1,y,3,4)", "could not parse longitude 'y' as a number"),
        (
            "(91,2,3,4,5,6,91,2)",
            "latitude 91 is outside the valid range [-90, 90]",
        ),
        (
            "(1,181,3,4,5,6,1,181)",
            "longitude 181 is outside the valid range [-180, 180]",
        ),
        (
            "(1,2,3,4,1,2)",
            "polygon must have at least 4 coordinate pairs (3 unique vertices plus a closing repeat of the first vertex)",
        ),
        (
            "(1,2,3,4,5,6,7,8)",
            "polygon must be closed (first and last coordinates must be identical)",
        ),
    ];
    for (raw, inner) in cases {
        let error = KeyRule::parse_polygon("polygon", &serde_json::json!(raw)).unwrap_err();
        assert_eq!(
            error.message,
            format!("field 'polygon' must be a valid polygon: {inner}"),
            "{raw:?}"
        );
    }
    let error = KeyRule::parse_polygon("polygon", &serde_json::json!(5)).unwrap_err();
    assert!(
        error
            .message
            .ends_with("polygon must be an array of [lat,lon] points or a compatible string")
    );
    let error = KeyRule::parse_polygon("polygon", &serde_json::json!([[1, 2], [3]])).unwrap_err();
    assert!(
        error.message.ends_with(
            "polygon point 1 is invalid: coordinate must be a two-element array [lat,lon]"
        )
    );
}

#[test]
fn unknown_handlers_and_options_are_refused() {
    let parse = |yaml: &str| {
        KeyRule::from_yaml(&serde_yaml::from_str(yaml).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert!(
        parse("{type: NopeHandler, required: true}").contains("unknown handler type 'NopeHandler'")
    );
    assert!(parse("{type: StringHandler, max_lenght: 2, required: true}").contains("max_lenght"));
    assert!(parse("{type: TimeHandler, format: x, required: true}").contains("unknown option"));
    assert!(parse("{type: StringHandler}").contains("'required' is missing"));
    assert!(parse("{type: IntHandler, range: [5, 1], required: true}").contains("min > max"));
    assert!(parse("{type: EnumHandler, values: [], required: true}").contains("non-empty"));
    assert!(
        parse("{type: DateHandler, canonical_format: '%d.%m.%Y', required: true}")
            .contains("%d.%m.%Y")
    );
}

#[test]
fn describe_shows_type_options_and_description_only_when_set() {
    let string = rule("{type: StringHandler, required: true}");
    assert_eq!(
        string.describe().to_string(),
        r#"{"max_length":null,"required":true,"type":"StringHandler"}"#
    );
    let described = rule("{type: TimeHandler, required: false, description: Run time}");
    assert_eq!(
        described.describe().to_string(),
        r#"{"description":"Run time","required":false,"type":"TimeHandler"}"#
    );
}
