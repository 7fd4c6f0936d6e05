//! Destructive operations run to their end: once started, an operation (store calls, audit
//! record, retraction) is a task of its own, so a request timeout or a client that hangs up
//! only stops the wait for the answer, never the operation half-way.

use std::future::Future;
use std::sync::Arc;

use axum::Json;
use tokio::sync::oneshot;

use super::answer::AdminAnswer;
use super::context::AdminRequest;
use crate::api::error::{AdminError, ApiError};

/// Whether the client still waits for the answer: the handler holds the other end, which
/// is dropped with it (request timeout, hang-up).
#[derive(Debug, Clone)]
pub(crate) struct Attendance(Arc<oneshot::Sender<()>>);

impl Attendance {
    /// True once nobody waits for the answer any more.
    pub(crate) fn client_left(&self) -> bool {
        self.0.is_closed()
    }
}

/// Runs `operation` as its own task and waits for its answer. Dropping the returned future
/// leaves the task running to its end (audit and retraction included); the audit record
/// then says the client left.
pub(crate) async fn to_completion<F, Fut>(
    mut request: AdminRequest,
    operation: F,
) -> Result<Json<AdminAnswer>, ApiError>
where
    F: FnOnce(AdminRequest) -> Fut,
    Fut: Future<Output = Result<Json<AdminAnswer>, ApiError>> + Send + 'static,
{
    let (present, _waiting) = oneshot::channel::<()>();
    request.attendance = Some(Attendance(Arc::new(present)));
    match tokio::spawn(operation(request)).await {
        Ok(result) => result,
        Err(error) => {
            tracing::error!(%error, "admin operation task ended abnormally");
            Err(AdminError::Aborted.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn request() -> AdminRequest {
        AdminRequest {
            request_id: "r-1".to_owned(),
            client: None,
            method: "DELETE".to_owned(),
            route: "/x".to_owned(),
            actor: None,
            roles: Vec::new(),
            attendance: None,
        }
    }

    /// Paused time: the 50 ms operation and the 10 ms wait run on the virtual clock, so
    /// the test neither waits nor depends on the machine being fast.
    #[tokio::test(start_paused = true)]
    async fn an_abandoned_operation_runs_to_its_end_and_knows_it() {
        let (finished, done) = oneshot::channel();
        let wait = to_completion(request(), move |request| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let left = request
                .attendance
                .as_ref()
                .is_some_and(Attendance::client_left);
            let _ = finished.send(left);
            Ok(Json(AdminAnswer::ok("done", &request.request_id)))
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(10), wait)
                .await
                .is_err(),
            "the wait times out"
        );
        assert!(
            done.await.unwrap(),
            "finished, and knew the client had left"
        );
    }

    #[tokio::test]
    async fn a_waited_for_operation_answers_and_the_client_is_present() {
        let answer = to_completion(request(), |request| async move {
            let present = request
                .attendance
                .as_ref()
                .is_some_and(|a| !a.client_left());
            Ok(Json(AdminAnswer::ok(
                if present { "present" } else { "gone" },
                &request.request_id,
            )))
        })
        .await
        .unwrap();
        assert_eq!(answer.0.message, "present");
    }
}
