//! Why an identifier or request was refused by the schema. Messages are aviso's, since
//! clients and scripts key on them; every variant is a client error (HTTP 400).

use std::fmt;

use super::constraint::ConstraintError;
use super::handler::ValueError;
use super::spatial::SpatialError;
use crate::subject::SubjectError;

/// Which endpoint is validating: messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Notify,
    Watch,
    Replay,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Notify => "notify",
            Operation::Watch => "watch",
            Operation::Replay => "replay",
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    #[error("Required field '{key}' missing for {operation} operation")]
    MissingKey { key: String, operation: Operation },
    #[error("Unknown field '{key}' provided for {operation} operation")]
    UnknownKey { key: String, operation: Operation },
    #[error("Field '{key}' constraint object is not supported for notify operation")]
    ConstraintOnNotify { key: String },
    #[error("identifier.point is only supported for watch/replay endpoints, not /notification")]
    PointOnNotify,
    #[error(
        "Cannot specify both identifier.polygon and identifier.point. Provide only one spatial filter."
    )]
    PolygonAndPoint,
    #[error("Field '{key}' cannot be null")]
    Null { key: String },
    #[error("Field '{key}' must be a scalar value or constraint object, got array")]
    Array { key: String },
    #[error("Payload is required for notify operation based on schema configuration")]
    PayloadRequired,
    /// A handler message, already phrased in aviso's words.
    #[error("{0}")]
    Value(ValueError),
    /// A watch/replay constraint object that cannot be applied to its key.
    #[error(transparent)]
    Constraint(#[from] ConstraintError),
    /// A watch/replay `point` that is not a coordinate pair.
    #[error(transparent)]
    Point(#[from] SpatialError),
    /// The identifier cannot be written as a subject (an empty token).
    #[error(transparent)]
    Subject(#[from] SubjectError),
}

impl Rejection {
    /// The root cause aviso reports as `details` (the message itself when there is none).
    pub fn details(&self) -> String {
        match self {
            Rejection::Value(ValueError {
                details: Some(details),
                ..
            }) => details.clone(),
            other => other.to_string(),
        }
    }
}
