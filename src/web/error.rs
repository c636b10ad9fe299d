//! The one error type of the web layer: every failed request becomes
//! `{"error": reason, "message": text}` with a fitting status. Internal
//! details are logged here and never sent to the client.

use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::gateway::api::{RecipientAnswer, SendError};

/// A JSON error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Machine-readable reason (`rate_limited`, `text_too_long`, ...).
    pub reason: &'static str,
    /// Human-readable text, safe to show.
    pub message: String,
    /// Whole seconds for the `Retry-After` header (429 only).
    pub retry_after: Option<u64>,
    /// A send no recipient can receive: each one's reason (422 only).
    pub recipients: Vec<RecipientAnswer>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    /// `no_recipient_accepted`: every recipient with the reason it was
    /// refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub recipients: Vec<RecipientAnswer>,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            message: message.into(),
            retry_after: None,
            recipients: Vec::new(),
        }
    }

    /// A send that would reach no one: nothing was sent, no session opens
    /// and no cookie is set; each recipient says why.
    pub fn no_recipient_accepted(recipients: Vec<RecipientAnswer>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_recipient_accepted",
            "none of the numbers can receive this message",
        );
        e.recipients = recipients;
        e
    }

    pub fn bad_request(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn no_session() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "no_session",
            "there is no live session",
        )
    }

    /// R13: a limit is used up; the next send may pass after `wait`
    /// (rounded up to whole seconds for `Retry-After`).
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many messages; try again later",
        );
        e.retry_after = Some(secs.max(1));
        e
    }

    /// The headers that go with this error whatever the body's format
    /// (JSON here, HTML on the form path).
    pub fn headers(&self) -> axum::http::HeaderMap {
        let mut h = axum::http::HeaderMap::new();
        if let Some(secs) = self.retry_after {
            h.insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        h
    }

    /// 503: the store cannot be read or written (the cause is logged where
    /// it happened, never shown).
    pub fn store_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            crate::gateway::api::StoreUnavailable.to_string(),
        )
    }

    pub fn cross_origin() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "requests from other sites are refused",
        )
    }

    /// Logs `detail` and answers a bare 500 that says nothing about it.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error in the web layer");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    fn from_body_status(
        status: StatusCode,
        detail: String,
        cause: &(dyn std::error::Error + 'static),
    ) -> Self {
        tracing::debug!(%detail, "rejected request body");
        let mut source = Some(cause);
        while let Some(e) = source {
            if let Some(t) = e.downcast_ref::<super::listener::BodyTimedOut>() {
                return Self::new(StatusCode::REQUEST_TIMEOUT, "body_timeout", t.to_string());
            }
            source = e.source();
        }
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                status,
                "payload_too_large",
                "the request body is larger than 64 KiB",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                status,
                "unsupported_media_type",
                "send Content-Type: application/json",
            ),
            _ => Self::bad_request("invalid_json", "the body is not the expected JSON"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let headers = self.headers();
        let body = ErrorBody {
            error: self.reason.to_string(),
            message: self.message,
            recipients: self.recipients,
        };
        (self.status, headers, Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        Self::from_body_status(r.status(), r.body_text(), &r)
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        Self::from_body_status(r.status(), r.body_text(), &r)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        tracing::debug!(detail = %r.body_text(), "rejected query");
        Self::bad_request("invalid_query", "the query string is not valid")
    }
}

impl From<SendError> for ApiError {
    fn from(e: SendError) -> Self {
        let status = match e {
            SendError::Invalid(_) | SendError::TooManyRecipients(_) => StatusCode::BAD_REQUEST,
            SendError::SendInProgress => StatusCode::CONFLICT,
            SendError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            SendError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, e.reason(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_refusals_keep_their_reason_and_status() {
        let cases = [
            (SendError::Invalid("x".into()), 400, "invalid_request"),
            (SendError::TooManyRecipients(50), 400, "too_many_recipients"),
            (SendError::SendInProgress, 409, "send_in_progress"),
            (SendError::Unavailable, 503, "unavailable"),
            (
                SendError::IdempotencyKeyReused,
                422,
                "idempotency_key_reused",
            ),
        ];
        for (e, status, reason) in cases {
            let a = ApiError::from(e);
            assert_eq!((a.status.as_u16(), a.reason), (status, reason));
        }
    }

    #[test]
    fn internal_errors_say_nothing_of_the_cause() {
        let a = ApiError::internal("sled: corrupted page 42 at /var/lib/smsgate");
        assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!a.message.contains("sled"));
    }
}
