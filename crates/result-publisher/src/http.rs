//! The HTTP JSON API, on the admin port: mirrors of the gRPC calls for
//! agents and dashboards that speak only HTTP, and a Server-Sent Events feed.
//!
//! - `POST /v1/tasks/{task}/status`  `{epoch, agent_id, status, findings, next_steps, update_id}`
//! - `POST /v1/tasks/{task}/result`  `{epoch, agent_id, outcome, solution, pr_url, test_results, artifacts}`
//! - `GET  /v1/tasks/{task}/result`, `GET /v1/tasks/{task}/status`
//! - `GET  /v1/results?task=&fingerprint=&outcome=&since=&until=&flagged=&limit=`
//! - `GET  /v1/watch?task=&fingerprint=&since=&resume=&results_only=` (SSE: `event:
//!   status|result`, `id: <cursor>`, `data: <json>`; a reconnect with
//!   `Last-Event-ID: <cursor>`, or `?resume=<cursor>`, continues right after it)
//! - `GET  /v1/webhooks/deliveries?task=&webhook=&limit=`
//!
//! Errors: `{"error": {"code", "message"}}` with 400, 404, 409 (stale lease),
//! 429 (too many watchers), 503 (retry; a retried result is published once).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use faultline_task_dispatcher::DispatchError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::index::{parse_ms, Query as ResultQuery};
use crate::model::{Artifact, ResultDoc, StatusDoc, TestResults};
use crate::publisher::{Publisher, Stored};
use crate::watch::WatchFilter;

/// The routes.
pub fn router(p: Publisher) -> Router {
    Router::new()
        .route(
            "/v1/tasks/{task}/status",
            get(list_status).post(publish_status),
        )
        .route(
            "/v1/tasks/{task}/result",
            get(get_result).post(publish_result),
        )
        .route("/v1/results", get(list_results))
        .route("/v1/watch", get(watch))
        .route("/v1/webhooks/deliveries", get(deliveries))
        .layer(DefaultBodyLimit::max(2 * 1024 * 1024))
        .with_state(p)
}

fn invalid(message: impl Into<String>) -> Response {
    DispatchError::InvalidArgument(message.into()).into_response()
}

fn stored_json(s: &Stored) -> Value {
    let mut v = serde_json::to_value(&s.doc).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("seq".into(), json!(s.seq));
    }
    v
}

fn time(field: &str, s: Option<&String>) -> Result<Option<i64>, Box<Response>> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_ms(s)
            .map(Some)
            .ok_or_else(|| Box::new(invalid(format!("{field} {s:?} is not an RFC 3339 time")))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    epoch: u64,
    agent_id: String,
    status: String,
    #[serde(default)]
    findings: String,
    #[serde(default)]
    next_steps: Vec<String>,
    #[serde(default)]
    update_id: Option<String>,
}

async fn publish_status(
    State(p): State<Publisher>,
    Path(task): Path<String>,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> Response {
    let b = match body {
        Ok(Json(b)) => b,
        Err(r) => return invalid(r.body_text()),
    };
    let doc = StatusDoc {
        task_id: task,
        epoch: b.epoch,
        agent_id: b.agent_id,
        status: b.status,
        findings: b.findings,
        next_steps: b.next_steps,
        update_id: b.update_id.filter(|u| !u.is_empty()),
        ..Default::default()
    };
    match p.publish_status(doc).await {
        Ok(done) => Json(json!({"status": done.doc, "seq": done.seq, "duplicate": done.duplicate}))
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultBody {
    epoch: u64,
    agent_id: String,
    outcome: String,
    #[serde(default)]
    solution: String,
    #[serde(default)]
    pr_url: Option<String>,
    #[serde(default)]
    test_results: Option<TestResults>,
    #[serde(default)]
    artifacts: Vec<Artifact>,
}

async fn publish_result(
    State(p): State<Publisher>,
    Path(task): Path<String>,
    body: Result<Json<ResultBody>, JsonRejection>,
) -> Response {
    let b = match body {
        Ok(Json(b)) => b,
        Err(r) => return invalid(r.body_text()),
    };
    let doc = ResultDoc {
        task_id: task,
        epoch: b.epoch,
        agent_id: b.agent_id,
        outcome: b.outcome,
        solution: b.solution,
        pr_url: b.pr_url.filter(|u| !u.is_empty()),
        test_results: b.test_results,
        artifacts: b.artifacts,
        ..Default::default()
    };
    match p.publish_result(doc).await {
        Ok(done) => Json(json!({
            "result": stored_json(&done.stored),
            "released": done.released,
            "already": done.already,
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn get_result(State(p): State<Publisher>, Path(task): Path<String>) -> Response {
    match p.get_result(&task).await {
        Ok(s) => Json(stored_json(&s)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn list_status(
    State(p): State<Publisher>,
    Path(task): Path<String>,
    Query(q): Query<Limit>,
) -> Response {
    match p
        .list_status(&task, q.limit.unwrap_or(100).clamp(1, 1000))
        .await
    {
        Ok(list) => Json(json!({ "status": list })).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct ListParams {
    task: Option<String>,
    fingerprint: Option<String>,
    outcome: Option<String>,
    since: Option<String>,
    until: Option<String>,
    #[serde(default)]
    flagged: bool,
    limit: Option<usize>,
}

async fn list_results(State(p): State<Publisher>, Query(q): Query<ListParams>) -> Response {
    let (since_ms, until_ms) = match (
        time("since", q.since.as_ref()),
        time("until", q.until.as_ref()),
    ) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    let query = ResultQuery {
        task_id: q.task.filter(|s| !s.is_empty()),
        fingerprint: q.fingerprint.filter(|s| !s.is_empty()),
        outcome: q.outcome.filter(|s| !s.is_empty()),
        since_ms,
        until_ms,
        flagged_only: q.flagged,
        limit: q.limit.unwrap_or(50),
    };
    match p.list_results(&query).await {
        Ok(list) => Json(json!({ "results": list.iter().map(stored_json).collect::<Vec<_>>() }))
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct WatchParams {
    task: Option<String>,
    fingerprint: Option<String>,
    since: Option<String>,
    resume: Option<String>,
    #[serde(default)]
    results_only: bool,
}

async fn watch(
    State(p): State<Publisher>,
    headers: axum::http::HeaderMap,
    Query(q): Query<WatchParams>,
) -> Response {
    let since_ms = match time("since", q.since.as_ref()) {
        Ok(ms) => ms,
        Err(r) => return *r,
    };
    // An EventSource sends the id of the last event it saw when it
    // reconnects; `?resume=` does the same for other clients.
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(q.resume)
        .filter(|s| !s.is_empty());
    let resume = match resume.map(|c| c.parse()) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => return invalid(format!("Last-Event-ID / resume: {e}")),
    };
    let rx = match p
        .watch(WatchFilter {
            task_id: q.task.filter(|s| !s.is_empty()),
            fingerprint: q.fingerprint.filter(|s| !s.is_empty()),
            since_ms,
            resume,
            results_only: q.results_only,
        })
        .await
    {
        Ok(rx) => rx,
        Err(e) => return e.into_response(),
    };
    let events =
        futures_util::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), |e| {
            Ok::<_, Infallible>(
                SseEvent::default()
                    .event(e.kind)
                    .id(e.cursor.to_string())
                    .data(e.json.to_string()),
            )
        });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[derive(Debug, Deserialize)]
struct DeliveryParams {
    task: Option<String>,
    webhook: Option<String>,
    limit: Option<usize>,
}

async fn deliveries(State(p): State<Publisher>, Query(q): Query<DeliveryParams>) -> Response {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    match p
        .deliveries(
            q.task.as_deref().filter(|s| !s.is_empty()),
            q.webhook.as_deref().filter(|s| !s.is_empty()),
            limit,
        )
        .await
    {
        Ok(list) => Json(json!({ "deliveries": list })).into_response(),
        Err(e) => e.into_response(),
    }
}
