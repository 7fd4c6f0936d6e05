//! Admin routes: aviso's delete and wipes, plus bulk delete, purge by identifier, dry runs,
//! the stream overview and the audit trail. Answers keep aviso's admin envelope
//! (`success`, `message`, `request_id`) and add their fields after it; every destructive
//! request, dry runs and refusals included, is recorded in the audit trail, and runs to its
//! end even when the client stops waiting.

mod answer;
mod audit;
mod audit_filter;
mod completion;
mod context;
mod delete;
mod purge;
mod streams;

pub(crate) use answer::{AdminAnswer, DryRun, refuse_body};
pub(crate) use audit::list as audit_trail;
pub(crate) use audit::record as record_audit;
pub(crate) use context::AdminRequest;
pub(crate) use delete::{delete_many, delete_one};
pub(crate) use purge::{purge_by_identifier, wipe_all, wipe_stream};
pub(crate) use streams::overview;
