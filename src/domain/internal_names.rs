//! Names Tidings uses for itself in NATS. Schemas may not claim them (the catalog refuses
//! the bases they fall under), so producers cannot write into them.

/// Base (and, upper-cased, stream name) of the audit trail.
pub const AUDIT_BASE: &str = "tidings_audit";

/// Base (and, upper-cased, stream name) of the live delivery outcomes.
pub const OUTCOMES_BASE: &str = "tidings_outcomes";

/// Core NATS subject carrying retractions between instances (not stored in a stream).
pub const RETRACTION_SUBJECT: &str = "tidings.retractions";
