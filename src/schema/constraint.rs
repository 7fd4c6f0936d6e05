//! Constraint objects on watch/replay identifiers (`{"gte": 4}`, `{"in": ["g","a"]}`):
//! exactly one operator, operands checked against the key's rule. A constrained key is
//! a `*` in the subject filter and is checked per message on the decoded token.

use serde_json::{Map, Value};

use super::handler::{EnumRule, FloatRule, IntRule, KeyHandler, ValueError};

/// Operators on integer and float keys, in the order aviso lists them.
const OPERATORS: [&str; 7] = ["eq", "in", "gt", "gte", "lt", "lte", "between"];
/// Enum keys compare only for equality.
const ENUM_OPERATORS: [&str; 2] = ["eq", "in"];

/// Why a constraint object was refused; messages are aviso's, shown to clients.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConstraintError {
    #[error("Field '{key}' does not support constraint filters; expected scalar value")]
    UnsupportedHandler { key: String },
    #[error("Field '{key}' constraint must contain exactly one operator")]
    NotOneOperator { key: String },
    #[error(
        "Field '{key}' has invalid operator '{operator}'. Allowed: {}",
        OPERATORS.join(",")
    )]
    UnknownOperator { key: String, operator: String },
    #[error(
        "Field '{key}' has invalid operator '{operator}'. Allowed for enum constraints: {}",
        ENUM_OPERATORS.join(",")
    )]
    UnknownEnumOperator { key: String, operator: String },
    #[error("Field '{key}' operator '{operator}' expects {kind}")]
    WrongOperand {
        key: String,
        operator: String,
        kind: OperandKind,
    },
    #[error("Field '{key}' operator '{operator}' expects array of {}", .kind.plural())]
    NotAnArray {
        key: String,
        operator: String,
        kind: OperandKind,
    },
    #[error("Field '{key}' operator '{operator}' must contain at least one value")]
    EmptyList { key: String, operator: String },
    #[error("Field '{key}' operator '{operator}' expects [min,max]")]
    NotARange { key: String, operator: String },
    #[error("Field '{key}' operator '{operator}' expects exactly two values [min,max]")]
    NotTwoBounds { key: String, operator: String },
    #[error("Field '{key}' operator '{operator}' expects min <= max")]
    ReversedBounds { key: String, operator: String },
    #[error("Field '{key}' constraint value {value} is outside allowed range [{min}, {max}]")]
    IntOutOfRange {
        key: String,
        value: i64,
        min: i64,
        max: i64,
    },
    #[error("Field '{key}' constraint value {value} is outside allowed range [{min}, {max}]")]
    FloatOutOfRange {
        key: String,
        value: f64,
        min: f64,
        max: f64,
    },
    /// An enum operand that is not one of the key's values, as the enum rule words it.
    #[error(transparent)]
    EnumValue(#[from] ValueError),
}

/// What a key's operands must be; displays as aviso names one operand (`integer value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperandKind {
    Integer,
    Number,
    Text,
}

impl OperandKind {
    /// How aviso names several operands (`in` takes an array of them).
    pub fn plural(self) -> &'static str {
        match self {
            OperandKind::Integer => "integers",
            OperandKind::Number => "numbers",
            OperandKind::Text => "strings",
        }
    }
}

impl std::fmt::Display for OperandKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OperandKind::Integer => "integer value",
            OperandKind::Number => "numeric value",
            OperandKind::Text => "string value",
        })
    }
}

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
    ) -> Result<Self, ConstraintError> {
        let unsupported = || ConstraintError::UnsupportedHandler {
            key: key.to_owned(),
        };
        if !matches!(
            handler,
            KeyHandler::Int(_) | KeyHandler::Float(_) | KeyHandler::Enum(_)
        ) {
            return Err(unsupported());
        }
        let (operator, operand) = single_operator(key, handler, object)?;
        match handler {
            KeyHandler::Int(rule) => parse_int(key, rule, operator, operand).map(Constraint::Int),
            KeyHandler::Float(rule) => {
                parse_float(key, rule, operator, operand).map(Constraint::Float)
            }
            KeyHandler::Enum(rule) => {
                parse_enum(key, rule, operator, operand).map(Constraint::Enum)
            }
            _ => Err(unsupported()),
        }
    }
}

/// The object's only entry, if its operator is one the handler knows.
fn single_operator<'a>(
    key: &str,
    handler: &KeyHandler,
    object: &'a Map<String, Value>,
) -> Result<(&'a str, &'a Value), ConstraintError> {
    let mut entries = object.iter();
    let (Some((operator, operand)), None) = (entries.next(), entries.next()) else {
        return Err(ConstraintError::NotOneOperator {
            key: key.to_owned(),
        });
    };
    let operator = operator.as_str();
    let (key, named) = (key.to_owned(), operator.to_owned());
    match handler {
        KeyHandler::Enum(_) if !ENUM_OPERATORS.contains(&operator) => {
            Err(ConstraintError::UnknownEnumOperator {
                key,
                operator: named,
            })
        }
        _ if !OPERATORS.contains(&operator) => Err(ConstraintError::UnknownOperator {
            key,
            operator: named,
        }),
        _ => Ok((operator, operand)),
    }
}

fn build<T>(
    key: &str,
    operator: &str,
    operand: &Value,
    kind: OperandKind,
    parse_one: impl Fn(&Value) -> Option<T>,
) -> Result<Comparison<T>, ConstraintError>
where
    T: PartialOrd,
{
    let (key, operator) = (key.to_owned(), operator.to_owned());
    let one = |value: &Value| {
        parse_one(value).ok_or_else(|| ConstraintError::WrongOperand {
            key: key.clone(),
            operator: operator.clone(),
            kind,
        })
    };
    Ok(match operator.as_str() {
        "eq" => Comparison::Eq(one(operand)?),
        "gt" => Comparison::Gt(one(operand)?),
        "gte" => Comparison::Gte(one(operand)?),
        "lt" => Comparison::Lt(one(operand)?),
        "lte" => Comparison::Lte(one(operand)?),
        "in" => {
            let Some(items) = operand.as_array() else {
                return Err(ConstraintError::NotAnArray {
                    key,
                    operator,
                    kind,
                });
            };
            if items.is_empty() {
                return Err(ConstraintError::EmptyList { key, operator });
            }
            Comparison::In(items.iter().map(one).collect::<Result<_, _>>()?)
        }
        _ => {
            let Some(pair) = operand.as_array() else {
                return Err(ConstraintError::NotARange { key, operator });
            };
            let [min, max] = pair.as_slice() else {
                return Err(ConstraintError::NotTwoBounds { key, operator });
            };
            let (min, max) = (one(min)?, one(max)?);
            if min > max {
                return Err(ConstraintError::ReversedBounds { key, operator });
            }
            Comparison::Between(min, max)
        }
    })
}

/// The key's range, when `value` falls outside it.
fn violated<T: PartialOrd + Copy>(value: T, range: Option<[T; 2]>) -> Option<[T; 2]> {
    range.filter(|[min, max]| value < *min || value > *max)
}

fn parse_int(
    key: &str,
    rule: &IntRule,
    operator: &str,
    operand: &Value,
) -> Result<Comparison<i64>, ConstraintError> {
    let comparison = build(key, operator, operand, OperandKind::Integer, Value::as_i64)?;
    for &value in comparison.operands() {
        if let Some([min, max]) = violated(value, rule.range) {
            return Err(ConstraintError::IntOutOfRange {
                key: key.to_owned(),
                value,
                min,
                max,
            });
        }
    }
    Ok(comparison)
}

fn parse_float(
    key: &str,
    rule: &FloatRule,
    operator: &str,
    operand: &Value,
) -> Result<Comparison<f64>, ConstraintError> {
    let comparison = build(key, operator, operand, OperandKind::Number, Value::as_f64)?;
    for &value in comparison.operands() {
        if let Some([min, max]) = violated(value, rule.range) {
            return Err(ConstraintError::FloatOutOfRange {
                key: key.to_owned(),
                value,
                min,
                max,
            });
        }
    }
    Ok(comparison)
}

fn parse_enum(
    key: &str,
    rule: &EnumRule,
    operator: &str,
    operand: &Value,
) -> Result<Comparison<String>, ConstraintError> {
    let comparison = build(key, operator, operand, OperandKind::Text, |value| {
        value.as_str().map(str::to_owned)
    })?;
    let canonical = |value: &String| rule.canonicalize_operand(key, value);
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

    fn parse(handler: &KeyHandler, value: Value) -> Result<Constraint, ConstraintError> {
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
        assert_eq!(parse(&int(None), json!({})).unwrap_err().to_string(), one);
        assert_eq!(
            parse(&int(None), json!({"gt": 1, "lt": 5}))
                .unwrap_err()
                .to_string(),
            one
        );
        assert_eq!(
            parse(&int(None), json!({"near": 1}))
                .unwrap_err()
                .to_string(),
            "Field 'step' has invalid operator 'near'. Allowed: eq,in,gt,gte,lt,lte,between"
        );
    }

    #[test]
    fn int_operands_must_be_json_integers_in_range() {
        let error = |value| parse(&int(Some([0, 10])), value).unwrap_err().to_string();
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
            parse(&handler, json!({"eq": "x"})).unwrap_err().to_string(),
            "Field 'step' operator 'eq' expects numeric value"
        );
    }

    #[test]
    fn enum_constraints_are_case_insensitive_and_checked() {
        let handler = KeyHandler::Enum(EnumRule::new(vec!["G".into(), "a".into()]).unwrap());
        let within = parse(&handler, json!({"in": ["G", "a"]})).unwrap();
        assert!(within.matches("g") && within.matches("a"));
        assert_eq!(
            parse(&handler, json!({"in": ["Z"]}))
                .unwrap_err()
                .to_string(),
            "Field 'step' has invalid enum value 'z'. Allowed: [g, a]"
        );
        assert_eq!(
            parse(&handler, json!({"gt": "a"})).unwrap_err().to_string(),
            "Field 'step' has invalid operator 'gt'. Allowed for enum constraints: eq,in"
        );
    }

    #[test]
    fn other_handlers_refuse_constraints() {
        let handler = KeyHandler::Time;
        assert_eq!(
            parse(&handler, json!({"eq": "1200"}))
                .unwrap_err()
                .to_string(),
            "Field 'step' does not support constraint filters; expected scalar value"
        );
    }
}
