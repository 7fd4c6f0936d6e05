//! Constraint objects on watch/replay identifiers (`{"gte": 4}`, `{"in": ["g","a"]}`):
//! exactly one operator, operands checked against the key's rule. A constrained key is
//! a `*` in the subject filter and is checked per message on the decoded token.

use serde_json::{Map, Value};

use super::handler::{EnumRule, FloatRule, IntRule, KeyHandler};

const OPERATORS: [&str; 7] = ["eq", "in", "gt", "gte", "lt", "lte", "between"];

#[derive(Debug, Clone, PartialEq)]
pub enum Comparison<T> {
    Eq(T),
    In(Vec<T>),
    Gt(T),
    Gte(T),
    Lt(T),
    Lte(T),
    Between(T, T),
}

impl<T: PartialOrd> Comparison<T> {
    fn holds(&self, value: &T) -> bool {
        match self {
            Comparison::Eq(operand) => value == operand,
            Comparison::In(operands) => operands.contains(value),
            Comparison::Gt(operand) => value > operand,
            Comparison::Gte(operand) => value >= operand,
            Comparison::Lt(operand) => value < operand,
            Comparison::Lte(operand) => value <= operand,
            Comparison::Between(min, max) => value >= min && value <= max,
        }
    }

    fn operands(&self) -> Vec<&T> {
        match self {
            Comparison::Eq(v)
            | Comparison::Gt(v)
            | Comparison::Gte(v)
            | Comparison::Lt(v)
            | Comparison::Lte(v) => vec![v],
            Comparison::In(values) => values.iter().collect(),
            Comparison::Between(min, max) => vec![min, max],
        }
    }
}

/// A parsed constraint, typed by the key's handler.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    Int(Comparison<i64>),
    Float(Comparison<f64>),
    Enum(Comparison<String>),
}

impl Constraint {
    /// Whether a canonical token value satisfies the constraint.
    pub fn matches(&self, token: &str) -> bool {
        match self {
            Constraint::Int(comparison) => token.parse().is_ok_and(|v| comparison.holds(&v)),
            Constraint::Float(comparison) => token.parse().is_ok_and(|v| comparison.holds(&v)),
            Constraint::Enum(comparison) => comparison.holds(&token.to_owned()),
        }
    }

    /// Parses `object` for `key` with the key's handler; messages are aviso's.
    pub fn parse(
        key: &str,
        handler: &KeyHandler,
        object: &Map<String, Value>,
    ) -> Result<Self, String> {
        let allowed = match handler {
            KeyHandler::Int(_) | KeyHandler::Float(_) => "eq,in,gt,gte,lt,lte,between",
            KeyHandler::Enum(_) => "eq,in",
            _ => {
                return Err(format!(
                    "Field '{key}' does not support constraint filters; expected scalar value"
                ));
            }
        };
        let mut entries = object.iter();
        let (Some((operator, operand)), None) = (entries.next(), entries.next()) else {
            return Err(format!(
                "Field '{key}' constraint must contain exactly one operator"
            ));
        };
        let operator = operator.as_str();
        let known = match handler {
            KeyHandler::Enum(_) => matches!(operator, "eq" | "in"),
            _ => OPERATORS.contains(&operator),
        };
        if !known {
            let scope = if allowed == "eq,in" {
                " for enum constraints"
            } else {
                ""
            };
            return Err(format!(
                "Field '{key}' has invalid operator '{operator}'. Allowed{scope}: {allowed}"
            ));
        }
        match handler {
            KeyHandler::Int(rule) => parse_int(key, rule, operator, operand).map(Constraint::Int),
            KeyHandler::Float(rule) => {
                parse_float(key, rule, operator, operand).map(Constraint::Float)
            }
            KeyHandler::Enum(rule) => {
                parse_enum(key, rule, operator, operand).map(Constraint::Enum)
            }
            _ => Err(format!(
                "Field '{key}' does not support constraint filters; expected scalar value"
            )),
        }
    }
}

/// Names of one operand kind in aviso's messages: (`value`, `array of values`).
struct OperandWords {
    single: &'static str,
    plural: &'static str,
}

fn build<T>(
    key: &str,
    operator: &str,
    operand: &Value,
    words: &OperandWords,
    parse_one: impl Fn(&Value) -> Option<T>,
) -> Result<Comparison<T>, String>
where
    T: PartialOrd,
{
    let one = |value: &Value| {
        parse_one(value).ok_or_else(|| {
            format!(
                "Field '{key}' operator '{operator}' expects {}",
                words.single
            )
        })
    };
    Ok(match operator {
        "eq" => Comparison::Eq(one(operand)?),
        "gt" => Comparison::Gt(one(operand)?),
        "gte" => Comparison::Gte(one(operand)?),
        "lt" => Comparison::Lt(one(operand)?),
        "lte" => Comparison::Lte(one(operand)?),
        "in" => {
            let items = operand.as_array().ok_or_else(|| {
                format!(
                    "Field '{key}' operator '{operator}' expects array of {}",
                    words.plural
                )
            })?;
            if items.is_empty() {
                return Err(format!(
                    "Field '{key}' operator '{operator}' must contain at least one value"
                ));
            }
            Comparison::In(items.iter().map(one).collect::<Result<_, _>>()?)
        }
        _ => {
            let pair = operand
                .as_array()
                .ok_or_else(|| format!("Field '{key}' operator '{operator}' expects [min,max]"))?;
            let [min, max] = pair.as_slice() else {
                return Err(format!(
                    "Field '{key}' operator '{operator}' expects exactly two values [min,max]"
                ));
            };
            let (min, max) = (one(min)?, one(max)?);
            if min > max {
                return Err(format!(
                    "Field '{key}' operator '{operator}' expects min <= max"
                ));
            }
            Comparison::Between(min, max)
        }
    })
}

fn out_of_range<T: std::fmt::Display + PartialOrd>(
    key: &str,
    value: &T,
    range: Option<[T; 2]>,
) -> Result<(), String> {
    match range {
        Some([min, max]) if *value < min || *value > max => Err(format!(
            "Field '{key}' constraint value {value} is outside allowed range [{min}, {max}]"
        )),
        _ => Ok(()),
    }
}

fn parse_int(
    key: &str,
    rule: &IntRule,
    operator: &str,
    operand: &Value,
) -> Result<Comparison<i64>, String> {
    let words = OperandWords {
        single: "integer value",
        plural: "integers",
    };
    let comparison = build(key, operator, operand, &words, Value::as_i64)?;
    for value in comparison.operands() {
        out_of_range(key, value, rule.range)?;
    }
    Ok(comparison)
}

fn parse_float(
    key: &str,
    rule: &FloatRule,
    operator: &str,
    operand: &Value,
) -> Result<Comparison<f64>, String> {
    let words = OperandWords {
        single: "numeric value",
        plural: "numbers",
    };
    let comparison = build(key, operator, operand, &words, Value::as_f64)?;
    for value in comparison.operands() {
        out_of_range(key, value, rule.range)?;
    }
    Ok(comparison)
}

fn parse_enum(
    key: &str,
    rule: &EnumRule,
    operator: &str,
    operand: &Value,
) -> Result<Comparison<String>, String> {
    let words = OperandWords {
        single: "string value",
        plural: "strings",
    };
    let comparison = build(key, operator, operand, &words, |value| {
        value.as_str().map(str::to_owned)
    })?;
    let canonical = |value: &String| {
        rule.canonicalize_operand(key, value)
            .map_err(|error| error.message)
    };
    Ok(match comparison {
        Comparison::Eq(value) => Comparison::Eq(canonical(&value)?),
        Comparison::In(values) => {
            Comparison::In(values.iter().map(canonical).collect::<Result<_, _>>()?)
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn int(range: Option<[i64; 2]>) -> KeyHandler {
        KeyHandler::Int(IntRule { range })
    }

    fn parse(handler: &KeyHandler, value: Value) -> Result<Constraint, String> {
        Constraint::parse("step", handler, value.as_object().unwrap())
    }

    #[test]
    fn int_operators_compare_numerically() {
        let gte = parse(&int(None), json!({"gte": 4})).unwrap();
        assert!(gte.matches("4") && gte.matches("10") && !gte.matches("3"));
        let between = parse(&int(None), json!({"between": [2, 5]})).unwrap();
        assert!(between.matches("2") && between.matches("5") && !between.matches("6"));
        let within = parse(&int(None), json!({"in": [1, 3]})).unwrap();
        assert!(within.matches("3") && !within.matches("2"));
        let lt = parse(&int(None), json!({"lt": 0})).unwrap();
        assert!(lt.matches("-1") && !lt.matches("0"));
    }

    #[test]
    fn rejects_zero_or_several_operators() {
        let one = "Field 'step' constraint must contain exactly one operator";
        assert_eq!(parse(&int(None), json!({})).unwrap_err(), one);
        assert_eq!(
            parse(&int(None), json!({"gt": 1, "lt": 5})).unwrap_err(),
            one
        );
        assert_eq!(
            parse(&int(None), json!({"near": 1})).unwrap_err(),
            "Field 'step' has invalid operator 'near'. Allowed: eq,in,gt,gte,lt,lte,between"
        );
    }

    #[test]
    fn int_operands_must_be_json_integers_in_range() {
        let error = |value| parse(&int(Some([0, 10])), value).unwrap_err();
        assert_eq!(
            error(json!({"eq": "4"})),
            "Field 'step' operator 'eq' expects integer value"
        );
        assert_eq!(
            error(json!({"eq": 4.5})),
            "Field 'step' operator 'eq' expects integer value"
        );
        assert_eq!(
            error(json!({"gt": 11})),
            "Field 'step' constraint value 11 is outside allowed range [0, 10]"
        );
        assert_eq!(
            error(json!({"in": []})),
            "Field 'step' operator 'in' must contain at least one value"
        );
        assert_eq!(
            error(json!({"in": 3})),
            "Field 'step' operator 'in' expects array of integers"
        );
        assert_eq!(
            error(json!({"between": [5, 2]})),
            "Field 'step' operator 'between' expects min <= max"
        );
        assert_eq!(
            error(json!({"between": [1]})),
            "Field 'step' operator 'between' expects exactly two values [min,max]"
        );
        assert_eq!(
            error(json!({"between": 1})),
            "Field 'step' operator 'between' expects [min,max]"
        );
    }

    #[test]
    fn float_constraints_take_any_finite_number() {
        let handler = KeyHandler::Float(FloatRule { range: None });
        let gte = parse(&handler, json!({"gte": 1.5})).unwrap();
        assert!(gte.matches("1.5") && gte.matches("2") && !gte.matches("1"));
        assert_eq!(
            parse(&handler, json!({"eq": "x"})).unwrap_err(),
            "Field 'step' operator 'eq' expects numeric value"
        );
    }

    #[test]
    fn enum_constraints_are_case_insensitive_and_checked() {
        let handler = KeyHandler::Enum(EnumRule::new(vec!["G".into(), "a".into()]).unwrap());
        let within = parse(&handler, json!({"in": ["G", "a"]})).unwrap();
        assert!(within.matches("g") && within.matches("a"));
        assert_eq!(
            parse(&handler, json!({"in": ["Z"]})).unwrap_err(),
            "Field 'step' has invalid enum value 'z'. Allowed: [g, a]"
        );
        assert_eq!(
            parse(&handler, json!({"gt": "a"})).unwrap_err(),
            "Field 'step' has invalid operator 'gt'. Allowed for enum constraints: eq,in"
        );
    }

    #[test]
    fn other_handlers_refuse_constraints() {
        let handler = KeyHandler::Time;
        assert_eq!(
            parse(&handler, json!({"eq": "1200"})).unwrap_err(),
            "Field 'step' does not support constraint filters; expected scalar value"
        );
    }
}
