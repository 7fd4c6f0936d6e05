//! The schema of event types (aviso's `notification_schema` format): loaded and checked
//! once at start-up into an immutable [`Catalog`], which validates and canonicalises
//! identifiers and resolves names to streams.

mod catalog;
mod constraint;
mod event_schema;
mod handler;
mod rejection;
mod source;
mod spatial;
mod storage_policy;
mod stream_auth;

pub use catalog::{Catalog, DefinitionProblem, SchemaError, SchemaProblem};
pub use constraint::{Constraint, ConstraintError, OperandKind};
pub use event_schema::{EventSchema, IdentifierFilter, POINT_KEY, PayloadRule};
pub use handler::{
    DateFormat, DateRule, EnumRule, ExpverRule, FloatRule, HandlerOptionError, HandlerResult,
    IntRule, KeyHandler, KeyRule, StringRule, ValueError,
};
pub use rejection::{Operation, Rejection};
pub use source::SourceError;
pub use spatial::{PointError, SpatialError, SpatialFilter};
pub use storage_policy::{PolicyError, StoragePolicy};
pub use stream_auth::{StreamAuth, StreamAuthError};
