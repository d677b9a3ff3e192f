//! The HTTP API (see `docs/openapi.yaml`): thin, HTTP ↔ pipeline.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use faultline_event::EventError;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::access::Access;
use crate::auth::Principal;
use crate::error::{retry_after_secs, IngestError};
use crate::pipeline::{Accepted, Ingestor};

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.yaml");

#[derive(Debug, Clone)]
pub(crate) struct HttpState {
    pub(crate) ingestor: Ingestor,
    pub(crate) access: Access,
    pub(crate) max_batch: usize,
    pub(crate) max_batch_bytes: usize,
}

pub(crate) fn router(state: HttpState) -> Router {
    Router::new()
        .route("/v1/errors", post(post_error))
        .route("/v1/errors:batch", post(post_batch))
        .route("/v1/fingerprints", get(top_fingerprints))
        .route("/v1/fingerprints/{fingerprint}", get(get_fingerprint))
        .route("/v1/openapi.yaml", get(openapi))
        // Bodies are read with explicit limits below, answered in JSON.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

fn error_response(err: &IngestError) -> Response {
    let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (
        status,
        Json(serde_json::json!({ "error": { "code": err.code(), "message": err.to_string() } })),
    )
        .into_response();
    if let Some(after) = err.retry_after() {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs(after)),
        );
    }
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn authorize(st: &HttpState, headers: &HeaderMap, cost: f64) -> Result<Principal, IngestError> {
    st.access.authorize(
        header_str(headers, "authorization"),
        header_str(headers, "x-api-key"),
        cost,
    )
}

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, IngestError> {
    if let Some(ct) = header_str(headers, "content-type") {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(IngestError::Encoding {
                message: format!("content type {mime:?} is not supported; send application/json"),
                code: "unsupported_media_type",
            });
        }
    }
    let raw = axum::body::to_bytes(body, limit + 1).await.map_err(|_| {
        IngestError::Invalid(EventError::TooLarge {
            size: limit + 1,
            limit,
        })
    })?;
    if raw.len() > limit {
        return Err(IngestError::Invalid(EventError::TooLarge {
            size: raw.len(),
            limit,
        }));
    }
    match header_str(headers, "content-encoding").map(|e| e.trim().to_ascii_lowercase()) {
        None => Ok(raw),
        Some(e) if e.is_empty() || e == "identity" => Ok(raw),
        Some(e) if e == "gzip" || e == "x-gzip" => gunzip(&raw, limit),
        Some(e) => Err(IngestError::Encoding {
            message: format!("content encoding {e:?} is not supported; send identity or gzip"),
            code: "unsupported_encoding",
        }),
    }
}

/// Decompresses at most `limit` bytes: a gzip bomb stops at the cap.
pub(crate) fn gunzip(raw: &[u8], limit: usize) -> Result<Bytes, IngestError> {
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit + 1));
    flate2::read::GzDecoder::new(raw)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::Encoding {
            message: format!("the gzip body does not decompress: {e}"),
            code: "bad_encoding",
        })?;
    if out.len() > limit {
        return Err(IngestError::Invalid(EventError::TooLarge {
            size: out.len(),
            limit,
        }));
    }
    Ok(out.into())
}

async fn post_error(State(st): State<HttpState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        authorize(&st, &headers, 1.0)?;
        let body = read_body(&headers, body, st.ingestor.limits().max_event_bytes).await?;
        Ok::<_, IngestError>(body)
    }
    .await;
    let body = match result {
        Ok(b) => b,
        Err(e) => {
            st.ingestor.refused("http", &e);
            return error_response(&e);
        }
    };
    match st.ingestor.ingest(&body, "http").await {
        Ok(accepted) => (StatusCode::ACCEPTED, Json(accepted)).into_response(),
        Err(e) => error_response(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wrapped<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// A batch is a JSON array of events, or `{"events": [...]}`; each event
/// stays raw so it is validated exactly like a single one.
fn split_batch(body: &[u8]) -> Result<Vec<&RawValue>, IngestError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let parsed = match first {
        Some(b'{') => serde_json::from_slice::<Wrapped<'_>>(body).map(|w| w.events),
        _ => serde_json::from_slice::<Vec<&RawValue>>(body),
    };
    parsed.map_err(|e| {
        IngestError::Invalid(EventError::Malformed {
            line: e.line(),
            column: e.column(),
            message: format!("a batch is a JSON array of events, or {{\"events\": [...]}}: {e}"),
        })
    })
}

async fn post_batch(State(st): State<HttpState>, headers: HeaderMap, body: Body) -> Response {
    // Who first (no tokens yet: a batch costs one per event, taken below).
    let prelude = async {
        let principal = authorize(&st, &headers, 0.0)?;
        let body = read_body(&headers, body, st.max_batch_bytes).await?;
        Ok::<_, IngestError>((principal, body))
    }
    .await;
    let (principal, body) = match prelude {
        Ok(p) => p,
        Err(e) => {
            st.ingestor.refused("http", &e);
            return error_response(&e);
        }
    };
    let events = match std::str::from_utf8(&body) {
        Ok(_) => split_batch(&body),
        Err(e) => Err(IngestError::Invalid(EventError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })),
    };
    let events = match events {
        Ok(v) => v,
        Err(err) => {
            st.ingestor.refused("http", &err);
            return error_response(&err);
        }
    };
    if events.len() > st.max_batch {
        let err = IngestError::BatchTooLarge {
            size: events.len(),
            limit: st.max_batch,
        };
        st.ingestor.refused("http", &err);
        return error_response(&err);
    }
    if let Err(e) = st.access.charge(&principal, events.len().max(1) as f64) {
        st.ingestor.refused("http", &e);
        return error_response(&e);
    }
    let results = futures_util::future::join_all(
        events
            .iter()
            .map(|raw| st.ingestor.ingest(raw.get().as_bytes(), "http")),
    )
    .await;
    let results: Vec<BatchItem> = results
        .into_iter()
        .enumerate()
        .map(|(index, r)| match r {
            Ok(a) => BatchItem::Accepted {
                index,
                status: 202,
                accepted: a,
            },
            Err(e) => BatchItem::Refused {
                index,
                status: e.http_status(),
                error: ErrorBody {
                    code: e.code(),
                    message: e.to_string(),
                },
                retry_after: e.retry_after().map(retry_after_secs),
            },
        })
        .collect();
    let accepted = results
        .iter()
        .filter(|r| matches!(r, BatchItem::Accepted { .. }))
        .count();
    let answer = BatchAnswer {
        accepted,
        rejected: results.len() - accepted,
        results,
    };
    (StatusCode::OK, Json(answer)).into_response()
}

/// The answer to a batch: counts, and a result per event in order.
#[derive(Debug, Serialize)]
struct BatchAnswer {
    accepted: usize,
    rejected: usize,
    results: Vec<BatchItem>,
}

/// One event's result in a batch: what a single `POST /v1/errors` would
/// have answered, with its index and status.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum BatchItem {
    Accepted {
        index: usize,
        status: u16,
        #[serde(flatten)]
        accepted: Accepted,
    },
    Refused {
        index: usize,
        status: u16,
        error: ErrorBody,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    code: &'static str,
    message: String,
}

async fn get_fingerprint(
    State(st): State<HttpState>,
    headers: HeaderMap,
    Path(fingerprint): Path<String>,
) -> Response {
    if let Err(e) = authorize(&st, &headers, 1.0) {
        return error_response(&e);
    }
    match st.ingestor.counter().get(&fingerprint).await {
        Ok(Some(stats)) => Json(stats).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": { "code": "not_found", "message": format!("no occurrences of {fingerprint:?}") } })),
        )
            .into_response(),
        Err(err) => counters_unavailable(&err),
    }
}

#[derive(Debug, Deserialize)]
struct TopQuery {
    top: Option<String>,
}

async fn top_fingerprints(
    State(st): State<HttpState>,
    headers: HeaderMap,
    Query(q): Query<TopQuery>,
) -> Response {
    if let Err(e) = authorize(&st, &headers, 1.0) {
        return error_response(&e);
    }
    let n = match q.top.as_deref().map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) => n,
        Some(Err(_)) => 0,
    };
    if !(1..=100).contains(&n) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({ "error": { "code": "invalid_value", "message": "top must be 1 to 100" } })),
        )
            .into_response();
    }
    match st.ingestor.counter().top(n).await {
        Ok(list) => Json(serde_json::json!({ "fingerprints": list })).into_response(),
        Err(err) => counters_unavailable(&err),
    }
}

fn counters_unavailable(err: &redis::RedisError) -> Response {
    error_response(&IngestError::Unavailable {
        reason: format!("counters unavailable: {err}"),
        retry_after: std::time::Duration::from_secs(1),
    })
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI)
}
