//! Which records a page of the audit trail shows. The operation narrows the subject filter
//! (records are stored under `<base>.<operation>`), so asking for the wipes of a busy trail
//! does not scan its dry runs; outcome and dry-run flag are read from each record.

use serde::Deserialize;

use crate::store::StoredMessage;

/// The query parameters the filter takes; the page parameters are taken before.
pub(crate) const FILTER_PARAMETERS: [&str; 3] = ["operation", "outcome", "dry_run"];

/// How a recorded request ended, as the record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Outcome {
    Success,
    Refused,
    Failed,
}

impl Outcome {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "success" => Some(Outcome::Success),
            "refused" => Some(Outcome::Refused),
            "failed" => Some(Outcome::Failed),
            _ => None,
        }
    }
}

/// The fields of a record the filter reads.
#[derive(Deserialize)]
struct Recorded {
    outcome: Outcome,
    dry_run: bool,
}

/// A filter over the audit trail; the default admits every record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AuditFilter {
    operation: Option<&'static str>,
    outcome: Option<Outcome>,
    dry_run: Option<bool>,
}

impl AuditFilter {
    /// Takes the filter parameters out of `pairs`; `operations` are the names the route
    /// table audits. Errors name the parameter and what it accepts.
    pub(crate) fn take(
        pairs: &mut Vec<(String, String)>,
        operations: &[&'static str],
    ) -> Result<Self, String> {
        let mut filter = AuditFilter::default();
        let mut seen: Vec<String> = Vec::new();
        let mut rest = Vec::new();
        for (key, value) in pairs.drain(..) {
            if !FILTER_PARAMETERS.contains(&key.as_str()) {
                rest.push((key, value));
                continue;
            }
            if seen.contains(&key) {
                return Err(format!("query parameter '{key}' is given more than once"));
            }
            match key.as_str() {
                "operation" => {
                    let known =
                        operations
                            .iter()
                            .find(|name| **name == value)
                            .ok_or_else(|| {
                                format!(
                                    "operation '{value}' is not audited; the audited ones are {}",
                                    operations.join(", ")
                                )
                            })?;
                    filter.operation = Some(known);
                }
                "outcome" => {
                    filter.outcome = Some(Outcome::parse(&value).ok_or_else(|| {
                        format!("outcome must be success, refused or failed, got '{value}'")
                    })?);
                }
                _ => {
                    filter.dry_run = Some(match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(format!("dry_run must be true or false, got '{value}'")),
                    });
                }
            }
            seen.push(key);
        }
        *pairs = rest;
        Ok(filter)
    }

    /// The subject filter of the trail stream whose base is `base`.
    pub(crate) fn subject_filter(&self, base: &str) -> String {
        match self.operation {
            Some(operation) => format!("{base}.{operation}"),
            None => format!("{base}.>"),
        }
    }

    /// Whether the record passes the outcome and dry-run parts.
    pub(crate) fn admits(&self, message: &StoredMessage) -> bool {
        if self.outcome.is_none() && self.dry_run.is_none() {
            return true;
        }
        let Ok(recorded) = serde_json::from_slice::<Recorded>(&message.payload) else {
            return false;
        };
        self.outcome
            .is_none_or(|outcome| outcome == recorded.outcome)
            && self
                .dry_run
                .is_none_or(|dry_run| dry_run == recorded.dry_run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::query::pairs;

    const OPERATIONS: [&str; 2] = ["wipe_stream", "delete"];

    #[test]
    fn takes_its_parameters_and_leaves_the_rest() {
        let mut query = pairs(&[
            ("operation", "wipe_stream"),
            ("limit", "5"),
            ("outcome", "refused"),
            ("dry_run", "false"),
        ]);
        let filter = AuditFilter::take(&mut query, &OPERATIONS).unwrap();
        assert_eq!(query, pairs(&[("limit", "5")]));
        assert_eq!(
            filter.subject_filter("tidings_audit"),
            "tidings_audit.wipe_stream"
        );
        assert_eq!(filter.outcome, Some(Outcome::Refused));
        assert_eq!(filter.dry_run, Some(false));
    }

    #[test]
    fn no_operation_means_the_whole_trail() {
        let filter = AuditFilter::take(&mut Vec::new(), &OPERATIONS).unwrap();
        assert_eq!(filter.subject_filter("tidings_audit"), "tidings_audit.>");
    }

    #[test]
    fn refuses_unknown_values_and_repeats_with_what_is_accepted() {
        let unknown = AuditFilter::take(&mut pairs(&[("operation", "wipe")]), &OPERATIONS);
        assert_eq!(
            unknown.unwrap_err(),
            "operation 'wipe' is not audited; the audited ones are wipe_stream, delete"
        );
        // A subject wildcard is no operation name.
        assert!(AuditFilter::take(&mut pairs(&[("operation", ">")]), &OPERATIONS).is_err());
        assert!(AuditFilter::take(&mut pairs(&[("outcome", "ok")]), &OPERATIONS).is_err());
        assert!(AuditFilter::take(&mut pairs(&[("dry_run", "yes")]), &OPERATIONS).is_err());
        let repeated = pairs(&[("outcome", "failed"), ("outcome", "success")]);
        assert!(AuditFilter::take(&mut repeated.clone(), &OPERATIONS).is_err());
    }

    #[test]
    fn admits_by_outcome_and_dry_run() {
        let message = |payload: &str| StoredMessage {
            sequence: crate::domain::Sequence::new(1).unwrap(),
            time: chrono::Utc::now(),
            subject: crate::subject::Subject::build("tidings_audit", ["delete"]).unwrap(),
            headers: Vec::new(),
            payload: bytes::Bytes::from(payload.to_owned()),
            rendition: std::sync::OnceLock::new(),
            live_frame: std::sync::OnceLock::new(),
        };
        let refused_real = message(r#"{"outcome":"refused","dry_run":false,"count":null}"#);
        let success_dry = message(r#"{"outcome":"success","dry_run":true}"#);
        let filter = AuditFilter::take(&mut pairs(&[("outcome", "refused")]), &OPERATIONS).unwrap();
        assert!(filter.admits(&refused_real));
        assert!(!filter.admits(&success_dry));
        let dry = AuditFilter::take(&mut pairs(&[("dry_run", "true")]), &OPERATIONS).unwrap();
        assert!(dry.admits(&success_dry));
        assert!(!dry.admits(&refused_real));
        assert!(AuditFilter::default().admits(&message("not json")));
        assert!(!dry.admits(&message("not json")));
    }
}
