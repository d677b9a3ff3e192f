//! The health-checker app: the check loop, the status API and `/v1/status`.

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use faultline_core::service::{App, BoxError, Context};
use faultline_core::shutdown::{Shutdown, ShutdownSignal};
use faultline_proto::faultline::health::v1::health_status_server::HealthStatusServer;
use tokio::sync::watch;

use crate::checker::{component_names, publish_health, Checker};
use crate::grpc::StatusService;
use crate::model::{State, SystemStatus};

/// The health-checker.
pub struct HealthCheckerApp {
    ctx: Context,
    tx: watch::Sender<SystemStatus>,
    stream_stop: Shutdown,
}

impl std::fmt::Debug for HealthCheckerApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthCheckerApp").finish_non_exhaustive()
    }
}

impl HealthCheckerApp {
    /// Builds the app from the service context.
    pub fn build(ctx: Context) -> Self {
        let initial = SystemStatus::unknown(&component_names());
        publish_health(&ctx.health, &initial);
        let (stream_stop, _) = Shutdown::new();
        Self {
            ctx,
            tx: watch::Sender::new(initial),
            stream_stop,
        }
    }
}

impl App for HealthCheckerApp {
    fn add_grpc_services(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(HealthStatusServer::new(StatusService {
            rx: self.tx.subscribe(),
            stop: self.stream_stop.signal(),
        }));
    }

    fn admin_routes(&self) -> Option<axum::Router> {
        Some(
            axum::Router::new()
                .route("/v1/status", get(status_json))
                .with_state(self.tx.subscribe()),
        )
    }

    fn owns_overall_health(&self) -> bool {
        true
    }

    async fn run(self, mut shutdown: ShutdownSignal) -> Result<(), BoxError> {
        let ctx = self.ctx;
        let mut checker = Checker::new(
            ctx.config.clone(),
            ctx.names.clone(),
            ctx.nats.clone(),
            ctx.redis.clone(),
            ctx.readiness.clone(),
        )?;
        let interval = ctx.config.health.check_interval;
        loop {
            let status = tokio::select! {
                s = checker.check_all() => s,
                () = shutdown.wait() => break,
            };
            publish_health(&ctx.health, &status);
            self.tx.send_if_modified(|current| {
                let notify = current.differs_in_substance(&status);
                *current = status;
                notify
            });
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = shutdown.wait() => break,
            }
        }
        self.stream_stop.trigger();
        Ok(())
    }
}

async fn status_json(
    AxumState(rx): AxumState<watch::Receiver<SystemStatus>>,
) -> (StatusCode, Json<SystemStatus>) {
    let status = rx.borrow().clone();
    let code = if status.state == State::Healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(status))
}
