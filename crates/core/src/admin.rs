//! The admin HTTP port: `/livez`, `/readyz` and `/metrics` (Prometheus text).
//!
//! `/livez` answers as long as the process's runtime answers; `/readyz`
//! mirrors the gRPC health status of the process (503 with the reason while
//! not serving), so HTTP-only probes see the same truth as gRPC ones.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::watch;

use crate::metrics::Metrics;

/// What `/readyz` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReadyState {
    /// Whether the process is serving.
    pub serving: bool,
    /// Why not, when not.
    pub reason: String,
}

#[derive(Clone)]
struct AdminState {
    ready: watch::Receiver<ReadyState>,
    metrics: Metrics,
    service: &'static str,
}

/// The admin routes; `extra` is merged in (the health-checker adds its status API).
pub fn router(
    service: &'static str,
    ready: watch::Receiver<ReadyState>,
    metrics: Metrics,
    extra: Option<Router>,
) -> Router {
    let base = Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AdminState {
            ready,
            metrics,
            service,
        });
    match extra {
        Some(extra) => base.merge(extra),
        None => base,
    }
}

async fn livez(State(st): State<AdminState>) -> impl IntoResponse {
    Json(serde_json::json!({ "service": st.service, "status": "alive" }))
}

async fn readyz(State(st): State<AdminState>) -> impl IntoResponse {
    let ready = st.ready.borrow().clone();
    let code = if ready.serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(serde_json::json!({
            "service": st.service,
            "status": if ready.serving { "serving" } else { "not_serving" },
            "reason": ready.reason,
        })),
    )
}

async fn metrics_text(State(st): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.metrics.encode(),
    )
}
