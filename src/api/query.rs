//! The GET forms of watch and replay (`/api/v1/watch/{event_type}?class=od&from_id=3`):
//! query parameters to the same request the POST forms take. Identifier keys are plain
//! parameters; constraints use `key[op]=value` (`step[gte]=4`, `domain[in]=g,a`,
//! `step[between]=1,5`).

use serde_json::{Map, Value};

use super::body::RequestBody;

const CURSORS: [&str; 4] = ["from_id", "from_date", "to_id", "to_date"];
const OPERATORS: [&str; 7] = ["eq", "in", "gt", "gte", "lt", "lte", "between"];

fn operand(raw: &str) -> Value {
    serde_json::from_str::<serde_json::Number>(raw.trim())
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(raw.to_owned()))
}

/// Why query parameters do not make a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("query parameter '{0}' is given more than once")]
    Repeated(String),
    #[error("query parameter '{key}' has unknown operator '{operator}'; use one of {}", OPERATORS.join(", "))]
    UnknownOperator { key: String, operator: String },
}

/// Builds the request for `event_type` from decoded query pairs.
pub(crate) fn request(
    event_type: String,
    pairs: Vec<(String, String)>,
) -> Result<RequestBody, QueryError> {
    let mut identifier = Map::new();
    let mut cursors: Map<String, Value> = Map::new();
    for (key, value) in pairs {
        let duplicate = || QueryError::Repeated(key.clone());
        if CURSORS.contains(&key.as_str()) {
            if cursors.insert(key.clone(), Value::String(value)).is_some() {
                return Err(duplicate());
            }
            continue;
        }
        let (name, constraint) = match key.strip_suffix(']').and_then(|rest| rest.split_once('[')) {
            Some((name, operator)) if OPERATORS.contains(&operator) => {
                let operand = match operator {
                    "in" | "between" => Value::Array(value.split(',').map(operand).collect()),
                    _ => operand(&value),
                };
                let mut object = Map::new();
                object.insert(operator.to_owned(), operand);
                (name.to_owned(), Value::Object(object))
            }
            Some((_, operator)) => {
                return Err(QueryError::UnknownOperator {
                    operator: operator.to_owned(),
                    key: key.clone(),
                });
            }
            None => (key.clone(), Value::String(value)),
        };
        if identifier.insert(name, constraint).is_some() {
            return Err(duplicate());
        }
    }
    let text = |name: &str| cursors.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(RequestBody {
        event_type,
        identifier,
        from_id: text("from_id"),
        from_date: text("from_date"),
        to_id: text("to_id"),
        to_date: text("to_date"),
        payload: None,
    })
}

/// Query pairs from literals, for the tests of every query parser.
#[cfg(test)]
pub(crate) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_identifier_keys_constraints_and_cursors() {
        let request = request(
            "mars".to_owned(),
            pairs(&[
                ("class", "od"),
                ("step[gte]", "4"),
                ("domain[in]", "g,a"),
                ("from_id", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(
            Value::Object(request.identifier),
            json!({"class":"od","step":{"gte":4},"domain":{"in":["g","a"]}})
        );
        assert_eq!(request.from_id.as_deref(), Some("3"));
    }

    #[test]
    fn refuses_repeats_and_unknown_operators() {
        assert!(request("m".to_owned(), pairs(&[("class", "a"), ("class", "b")])).is_err());
        assert!(
            request("m".to_owned(), pairs(&[("step[near]", "1")]))
                .unwrap_err()
                .to_string()
                .contains("unknown operator")
        );
    }
}
