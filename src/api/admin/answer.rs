//! The admin envelope and its additions, and the `?dry_run=` switch.

use axum::extract::{FromRequestParts, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Serialize;

use crate::api::error::{AdminFailure, ApiError};
use crate::store::{PurgeReport, StoreError};

/// `?dry_run=true`: same validation and answer, nothing removed. Anything but one `true`
/// or `false` is an admin-shaped 400.
#[derive(Debug, Default)]
pub(crate) struct DryRun {
    pub dry_run: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for DryRun {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let bad = || {
            failure(
                StatusCode::BAD_REQUEST,
                "dry_run must be true or false, given once",
            )
        };
        let pairs = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|_| bad())?
            .0;
        let mut values = pairs
            .into_iter()
            .filter(|(key, _)| key == "dry_run")
            .map(|(_, value)| value);
        let dry_run = match (values.next().as_deref(), values.next()) {
            (None, _) => false,
            (Some("true"), None) => true,
            (Some("false"), None) => false,
            _ => return Err(bad()),
        };
        Ok(Self { dry_run })
    }
}

/// What one stream lost (or would lose).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StreamReport {
    pub stream: String,
    pub count: u64,
    pub first_sequence: Option<u64>,
    pub last_sequence: Option<u64>,
}

impl StreamReport {
    pub(crate) fn new(stream: String, report: PurgeReport) -> Self {
        Self {
            stream,
            count: report.count,
            first_sequence: report.first_sequence,
            last_sequence: report.last_sequence,
        }
    }
}

/// One id of a bulk request that could not be deleted.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ItemFailure {
    pub id: String,
    pub code: &'static str,
    pub message: String,
}

/// A successful admin answer: the envelope first, additions after, absent ones left out.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct AdminAnswer {
    pub success: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    pub request_id: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_sequence: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sequence: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<Vec<StreamReport>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub successful: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<Vec<ItemFailure>>,
}

impl AdminAnswer {
    pub(crate) fn ok(message: impl Into<String>, request_id: &str) -> Self {
        Self {
            success: true,
            message: message.into(),
            request_id: request_id.to_owned(),
            ..Self::default()
        }
    }

    /// Adds what one stream lost.
    pub(crate) fn with_report(mut self, stream: String, report: PurgeReport) -> Self {
        self.stream = Some(stream);
        self.count = Some(report.count);
        self.first_sequence = report.first_sequence;
        self.last_sequence = report.last_sequence;
        self
    }
}

pub(crate) fn failure(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError::Admin(AdminFailure {
        status,
        message: message.into(),
        notification_id: None,
    })
}

/// A store failure during an admin operation: 503 when NATS is unreachable, else 500.
pub(crate) fn store_failure(action: &str, error: &StoreError) -> ApiError {
    let status = match error {
        StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    tracing::warn!(%error, "{action} failed");
    failure(status, format!("Failed to {action}: store unavailable"))
}
