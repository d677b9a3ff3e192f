//! The HTTP JSON API, on the admin port. It keeps the seed's coordination
//! API working for scripts written against it, and mirrors the gRPC calls
//! for agents that speak only HTTP.
//!
//! Seed API: `GET /health`, `GET /api/agents`, `GET /api/tasks`,
//! `GET /api/messages/coordination`, `POST /api/agents/register`,
//! `POST /api/agents/heartbeat`, `POST /api/messages`.
//!
//! Mirrors: `POST /api/tasks` (submit), `GET /api/tasks/{id}`,
//! `POST /api/tasks/claim`, `POST /api/tasks/{id}/{progress|complete|fail|hand_back|cancel}`,
//! `POST /api/agents/deregister`, `GET /api/jobs/{id}`, `GET /api/dead-letters`,
//! `GET /api/dead-letters/{id}`, `POST /api/dead-letters/{id}/replay`.
//!
//! Errors: `{"error": {"code", "message"}}` with 400, 403 (refused by the
//! filter), 404, 409 (stale lease, wrong state), 429 (agent at capacity), 503.

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::dispatcher::{Dispatcher, Submission};
use crate::error::DispatchError;
use crate::grpc::{list_tasks, TaskFilter};
use crate::record::{rfc3339, TaskRecord};

/// The routes.
pub fn router(d: Dispatcher, max_body: usize) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/api/agents", get(agents))
        .route("/api/agents/register", post(register))
        .route("/api/agents/heartbeat", post(heartbeat))
        .route("/api/agents/deregister", post(deregister))
        .route("/api/tasks", get(tasks).post(submit))
        .route("/api/tasks/claim", post(claim))
        .route("/api/tasks/{id}", get(task))
        .route("/api/tasks/{id}/{action}", post(task_action))
        .route("/api/jobs/{id}", get(job))
        .route("/api/messages", post(post_message))
        .route("/api/messages/coordination", get(messages))
        .route("/api/dead-letters", get(dead_letters))
        .route("/api/dead-letters/{id}", get(dead_letter))
        .route("/api/dead-letters/{id}/replay", post(replay))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(d)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message.into() } })),
    )
        .into_response()
}

impl IntoResponse for DispatchError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = error(status, self.kind(), self.to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        resp
    }
}

type Body<T> = Result<Json<T>, JsonRejection>;

fn body<T>(b: Body<T>) -> Result<T, Box<Response>> {
    b.map(|Json(v)| v)
        .map_err(|r| Box::new(error(r.status(), "invalid_argument", r.body_text())))
}

fn task_json(rec: &TaskRecord) -> Value {
    json!({
        "task_id": rec.task.id,
        "id": rec.task.id,
        "type": rec.task.kind,
        "status": rec.state.as_str(),
        "state": rec.state.as_str(),
        "priority": rec.task.priority,
        "description": rec.task.description,
        "context": rec.task.context,
        "required_capabilities": rec.task.required_capabilities,
        "blocked_by": rec.task.blocked_by,
        "job_id": rec.task.job_id,
        "fingerprint": rec.task.fingerprint,
        "assigned_to": rec.agent,
        "epoch": rec.epoch,
        "attempt": rec.attempt,
        "holders": rec.holders,
        "occurrences": rec.occurrences,
        "attached_to": rec.attached_to,
        "regression_of": rec.regression_of,
        "last_error": rec.last_error,
        "progress": rec.progress,
        "result": rec.result,
        "dead_letter_id": rec.dead_letter,
        "created_at": rec.task.created_at,
        "updated_at": rfc3339(rec.updated),
    })
}

async fn health(State(d): State<Dispatcher>) -> Response {
    let synced = d.mirror().is_synced();
    let status = if synced {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if synced { "healthy" } else { "starting" },
            "service": "task-dispatcher",
            "timestamp": rfc3339(crate::record::now_ms()),
        })),
    )
        .into_response()
}

async fn agents(State(d): State<Dispatcher>) -> Result<Json<Value>, DispatchError> {
    let ttl = d.cfg().presence_ttl();
    let list: Vec<Value> = d
        .agents_now()
        .await?
        .into_iter()
        .map(|(a, held)| {
            json!({
                "agent_id": a.id,
                "name": a.name,
                "capabilities": a.capabilities,
                "max_tasks": a.max_tasks,
                "status": if held.is_empty() { "idle" } else { "busy" },
                "current_tasks": held.iter().map(|(t, e)| json!({"task_id": t, "epoch": e})).collect::<Vec<_>>(),
                "registered_at": rfc3339(a.registered_at),
                "last_heartbeat": rfc3339(a.heartbeat_at),
                "expires_at": rfc3339(a.heartbeat_at + crate::dispatcher::dur_ms(ttl)),
            })
        })
        .collect();
    Ok(Json(json!({ "agents": list, "count": list.len() })))
}

#[derive(Debug, Deserialize)]
struct RegisterBody {
    #[serde(default, alias = "id")]
    agent_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default, alias = "max_concurrent_tasks")]
    max_tasks: Option<u32>,
}

async fn register(State(d): State<Dispatcher>, b: Body<RegisterBody>) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(id) = b.agent_id.clone().or_else(|| b.name.clone()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "agent_id (or name) is required",
        );
    };
    let name = b.name.unwrap_or_else(|| id.clone());
    match d
        .register(&id, &name, b.capabilities, b.max_tasks.unwrap_or(1))
        .await
    {
        Ok(a) => (
            StatusCode::OK,
            Json(json!({
                "status": "registered",
                "agent_id": a.id,
                "heartbeat_interval": d.cfg().heartbeat_interval.as_secs_f64(),
                "lease_timeout": d.cfg().presence_ttl().as_secs_f64(),
            })),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct LeaseBody {
    task_id: String,
    epoch: u64,
}

#[derive(Debug, Deserialize)]
struct HeartbeatBody {
    #[serde(alias = "id")]
    agent_id: String,
    #[serde(default)]
    held: Vec<LeaseBody>,
}

async fn heartbeat(State(d): State<Dispatcher>, b: Body<HeartbeatBody>) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let believed: Vec<(String, u64)> = b.held.into_iter().map(|l| (l.task_id, l.epoch)).collect();
    match d.heartbeat(&b.agent_id, &believed).await {
        Ok(out) => Json(json!({
            "status": "ok",
            "held": out.held.iter().map(|(t, e)| json!({"task_id": t, "epoch": e})).collect::<Vec<_>>(),
            "revoked": out.revoked.iter().map(|(t, e, r)| json!({"task_id": t, "epoch": e, "reason": r})).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct AgentBody {
    #[serde(alias = "id")]
    agent_id: String,
}

async fn deregister(State(d): State<Dispatcher>, b: Body<AgentBody>) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    match d.deregister(&b.agent_id).await {
        Ok(n) => Json(json!({"status": "deregistered", "handed_back": n})).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct TasksQuery {
    #[serde(default, alias = "status")]
    state: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default, alias = "agent_id", alias = "assigned_to")]
    agent: Option<String>,
    #[serde(default)]
    job_id: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    offset: Option<usize>,
}

async fn tasks(
    State(d): State<Dispatcher>,
    q: Result<Query<TasksQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "bad query: limit and offset are numbers",
        );
    };
    let f = TaskFilter {
        state: q.state,
        kind: q.kind,
        agent: q.agent,
        job: q.job_id,
        fingerprint: q.fingerprint,
    };
    let (offset, limit) = (q.offset.unwrap_or(0), q.limit.unwrap_or(100).clamp(1, 1000));
    match list_tasks(&d, &f, offset, limit) {
        Ok((page, total)) => Json(json!({
            "tasks": page.iter().map(task_json).collect::<Vec<_>>(),
            "total": total,
            "offset": offset,
            "limit": limit,
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn task(
    State(d): State<Dispatcher>,
    Path(id): Path<String>,
) -> Result<Json<Value>, DispatchError> {
    Ok(Json(task_json(&d.record(&id).await?.value)))
}

#[derive(Debug, Deserialize)]
struct SubmitBody {
    #[serde(default)]
    job_id: Option<String>,
    #[serde(default)]
    tasks: Option<Vec<SpecBody>>,
    #[serde(flatten)]
    single: Option<SpecBody>,
}

#[derive(Debug, Deserialize)]
struct SpecBody {
    #[serde(default, alias = "task_id")]
    id: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    priority: Option<u8>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    context: Option<Value>,
    #[serde(default)]
    required_capabilities: Vec<String>,
    #[serde(default)]
    blocked_by: Vec<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

impl SpecBody {
    fn into_submission(self) -> Submission {
        Submission {
            id: self.id,
            kind: self.kind.unwrap_or_default(),
            priority: self.priority.unwrap_or(5),
            description: self.description.unwrap_or_default(),
            context: self.context.unwrap_or(Value::Null),
            required_capabilities: self.required_capabilities,
            blocked_by: self.blocked_by,
            fingerprint: self.fingerprint,
        }
    }
}

async fn submit(State(d): State<Dispatcher>, b: Body<SubmitBody>) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let specs: Vec<Submission> = match (b.tasks, b.single) {
        (Some(list), _) => list.into_iter().map(SpecBody::into_submission).collect(),
        (None, Some(one)) if one.description.is_some() => vec![one.into_submission()],
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_argument",
                "send a task (description, ...) or tasks: [...]",
            )
        }
    };
    let job = b
        .job_id
        .or_else(|| (specs.len() > 1).then(|| crate::record::random_id("job")));
    match d.submit(job.clone(), specs).await {
        Ok(out) => (
            StatusCode::CREATED,
            Json(json!({
                "job_id": job,
                "tasks": out.iter().map(|(id, s)| json!({"task_id": id, "state": s.as_str()})).collect::<Vec<_>>(),
            })),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct ClaimBody {
    agent_id: String,
    #[serde(default)]
    wait_ms: u64,
    #[serde(default)]
    types: Vec<String>,
}

async fn claim(State(d): State<Dispatcher>, b: Body<ClaimBody>) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    match d
        .claim(&b.agent_id, Duration::from_millis(b.wait_ms), &b.types)
        .await
    {
        Ok(Some(c)) => {
            let prev = d.previous_result(&c.record).await;
            let mut v = task_json(&c.record);
            v["previous_result"] = prev.unwrap_or(Value::Null);
            v["attempt_deadline"] = json!(rfc3339(c.record.attempt_deadline));
            Json(v).into_response()
        }
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct ActionBody {
    #[serde(default)]
    agent_id: String,
    #[serde(default)]
    epoch: u64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    permanent: bool,
    #[serde(default)]
    retry_after_ms: Option<u64>,
    #[serde(default)]
    operator: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

async fn task_action(
    State(d): State<Dispatcher>,
    Path((id, action)): Path<(String, String)>,
    b: Body<ActionBody>,
) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let r: Result<Value, DispatchError> = match action.as_str() {
        "progress" => d
            .progress(&b.agent_id, &id, b.epoch, b.message.as_deref().unwrap_or(""))
            .await
            .map(|()| json!({"status": "ok"})),
        "complete" => d
            .complete(&b.agent_id, &id, b.epoch, b.result.unwrap_or(Value::Null))
            .await
            .map(|done| {
                json!({"status": "completed", "released": done.released,
                    "already": done.already, "result": done.result})
            }),
        "fail" => d
            .fail(
                &b.agent_id,
                &id,
                b.epoch,
                b.error.as_deref().unwrap_or("no error given"),
                b.permanent,
                b.retry_after_ms.filter(|ms| *ms > 0).map(Duration::from_millis),
            )
            .await
            .map(|rec| json!({"status": rec.state.as_str(), "next_attempt_at": rfc3339(rec.next_attempt_at), "dead_letter_id": rec.dead_letter})),
        "hand_back" => d.hand_back(&b.agent_id, &id, b.epoch).await.map(|()| json!({"status": "available"})),
        "cancel" => d
            .cancel(&id, b.operator.as_deref().unwrap_or(""), b.reason.as_deref().unwrap_or(""))
            .await
            .map(|()| json!({"status": "cancelled"})),
        other => return error(StatusCode::NOT_FOUND, "not_found", format!("no action {other:?}")),
    };
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn job(
    State(d): State<Dispatcher>,
    Path(id): Path<String>,
) -> Result<Json<Value>, DispatchError> {
    let j =
        crate::jobs::job(&d, &id).ok_or_else(|| DispatchError::NotFound(format!("no job {id}")))?;
    Ok(Json(serde_json::to_value(j).unwrap_or(Value::Null)))
}

#[derive(Debug, Deserialize)]
struct MessageBody {
    #[serde(default, alias = "agent_id", alias = "sender", alias = "from_agent")]
    from: Option<String>,
    #[serde(default, alias = "content", alias = "message")]
    text: Option<String>,
}

async fn post_message(State(d): State<Dispatcher>, b: Body<MessageBody>) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let (Some(from), Some(text)) = (b.from, b.text) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "from (or agent_id) and content (or text) are required",
        );
    };
    match d.post(&from, &text).await {
        Ok(p) => (
            StatusCode::CREATED,
            Json(serde_json::to_value(p).unwrap_or(Value::Null)),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: u32,
    #[serde(default)]
    mention: Option<String>,
}

async fn messages(
    State(d): State<Dispatcher>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, DispatchError> {
    let posts = d.messages(q.after, q.limit, q.mention.as_deref()).await?;
    Ok(Json(json!({ "messages": posts, "count": posts.len() })))
}

fn dead_json(dl: &crate::deadletters::DeadLetter) -> Value {
    json!({
        "id": dl.id,
        "task_id": dl.record.task.id,
        "type": dl.record.task.kind,
        "reason": dl.record.reason,
        "attempts": dl.record.attempts,
        "last_error": dl.record.last_error,
        "holders": dl.record.holders,
        "fingerprint": dl.record.fingerprint,
        "dead_at": dl.record.dead_at,
        "replays": dl.replays,
        "task": dl.record.task,
    })
}

async fn dead_letters(
    State(d): State<Dispatcher>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, DispatchError> {
    let list = d.list_dead(q.after, q.limit).await?;
    Ok(Json(
        json!({ "dead_letters": list.iter().map(dead_json).collect::<Vec<_>>() }),
    ))
}

async fn dead_letter(
    State(d): State<Dispatcher>,
    Path(id): Path<u64>,
) -> Result<Json<Value>, DispatchError> {
    Ok(Json(dead_json(&d.get_dead(id).await?)))
}

#[derive(Debug, Deserialize)]
struct ReplayBody {
    operator: String,
    reason: String,
}

async fn replay(State(d): State<Dispatcher>, Path(id): Path<u64>, b: Body<ReplayBody>) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    match d.replay(id, &b.operator, &b.reason).await {
        Ok((task_id, replayed, left)) => (
            if replayed {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(json!({"task_id": task_id, "replayed": replayed, "replays_left": left})),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
