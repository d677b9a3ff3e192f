//! HTTP mirrors of the gRPC calls, on the admin port (an operator's port:
//! keep it off the public network).
//!
//! - `POST /v1/scan` `{"text": …}` | `{"event": {…}}` | `{"fields": [{"name", "value"}]}`
//! - `GET /v1/rejections?after=N&limit=M`
//! - `GET /v1/rejections/{id}`
//! - `POST /v1/rejections/{id}/release` `{"reviewer": …, "reason": …}`

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::filter::Filter;
use super::grpc::ScanInput;
use super::review::{Rejection, ReleaseRecord, ReviewError};
use crate::explanation_json;

/// The routes, for the admin port.
pub(crate) fn router(filter: Filter, max_body: usize) -> Router {
    Router::new()
        .route("/v1/scan", post(scan))
        .route("/v1/rejections", get(list))
        .route("/v1/rejections/{id}", get(show))
        .route("/v1/rejections/{id}/release", post(release))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(filter)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message.into() } })),
    )
        .into_response()
}

impl IntoResponse for ReviewError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ReviewError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_argument"),
            ReviewError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ReviewError::Precondition(_) => (StatusCode::CONFLICT, "failed_precondition"),
            ReviewError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        error(status, code, self.to_string())
    }
}

fn bad_json(rejection: &JsonRejection) -> Response {
    error(
        rejection.status(),
        "invalid_argument",
        rejection.body_text(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanBody {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    event: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    fields: Option<Vec<FieldBody>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldBody {
    name: String,
    value: String,
}

async fn scan(
    State(filter): State<Filter>,
    body: Result<Json<ScanBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(b)) => b,
        Err(e) => return bad_json(&e),
    };
    let input = match (body.text, body.event, body.fields) {
        (Some(t), None, None) => ScanInput::Text(t),
        (None, Some(e), None) => ScanInput::Event(e.get().as_bytes().to_vec()),
        (None, None, Some(f)) => {
            ScanInput::Fields(f.into_iter().map(|f| (f.name, f.value)).collect())
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_argument",
                "give exactly one of text, event, fields",
            )
        }
    };
    match filter.scan_input(input) {
        Ok((verdict, fingerprint)) => {
            let decision = verdict.decision.as_str();
            filter.metrics.api_scan("http", decision);
            let mut out = json!({
                "decision": decision,
                "score": verdict.score,
                "explanation": explanation_json(&verdict),
            });
            if let Some(fp) = fingerprint {
                out["fingerprint"] = json!(fp);
            }
            Json(out).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: u32,
}

fn release_json(r: &ReleaseRecord) -> Value {
    json!({
        "rejection_id": r.rejection_id,
        "reviewer": r.reviewer,
        "reason": r.reason,
        "released_at": r.released_at,
        "task_id": r.task_id,
        "record_id": r.record_id,
    })
}

fn rejection_json(r: &Rejection) -> Value {
    json!({
        "id": r.id,
        "record": r.record,
        "release": r.release.as_ref().map(release_json),
    })
}

async fn list(
    State(filter): State<Filter>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_argument", e.body_text()),
    };
    match filter.list_rejections(q.after, q.limit).await {
        Ok((list, next)) => Json(json!({
            "rejections": list.iter().map(rejection_json).collect::<Vec<_>>(),
            "next_after": next,
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn show(State(filter): State<Filter>, Path(id): Path<u64>) -> Response {
    match filter.get_rejection(id).await {
        Ok(r) => Json(rejection_json(&r)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseBody {
    reviewer: String,
    reason: String,
}

async fn release(
    State(filter): State<Filter>,
    Path(id): Path<u64>,
    body: Result<Json<ReleaseBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(b)) => b,
        Err(e) => return bad_json(&e),
    };
    match filter.release(id, &body.reviewer, &body.reason).await {
        Ok((r, already)) => {
            let status = if already {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            (
                status,
                Json(json!({ "release": release_json(&r), "already_released": already })),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}
