//! The injection-filter service: durable consumers on every error stream,
//! a task for each clean event, a security record for each rejected one,
//! human review (list, show, release), and `Scan` for other services.

mod filter;
mod grpc;
mod http;
mod metrics;
mod review;
mod worker;

use crate::Thresholds;
use faultline_core::service::{App, BoxError, Context};
use faultline_core::shutdown::ShutdownSignal;
use faultline_event::Limits;
use faultline_proto::faultline::filter::v1::injection_filter_server::InjectionFilterServer;

use filter::Filter;
use grpc::GrpcFilter;
use metrics::FilterMetrics;
use worker::{StreamHealth, WorkerConfig};

/// The running injection-filter.
#[derive(Debug)]
pub struct FilterApp {
    filter: Filter,
    streams: Vec<String>,
    worker: WorkerConfig,
    health: StreamHealth,
    max_message: usize,
}

impl FilterApp {
    /// Builds the app from the common context.
    pub async fn build(ctx: Context) -> Result<Self, BoxError> {
        let cfg = &ctx.config.filter;
        let ing = &ctx.config.ingest;
        // Producers that publish straight to NATS may send up to the
        // server's max payload; such events are scanned, not refused.
        let max_payload = ctx.nats.client.server_info().max_payload;
        let limits = Limits {
            max_event_bytes: max_payload.max(ing.max_event_bytes),
            max_string_bytes: max_payload.max(ing.max_string_bytes),
            max_depth: ing.max_depth,
            max_frames: ing.max_frames,
            ..Limits::default()
        };
        let thresholds = Thresholds {
            flag: cfg.flag_threshold,
            reject: cfg.reject_threshold,
            ..Thresholds::default()
        };
        let streams = ctx
            .names
            .error_streams(ctx.config.provision.environments.keys().map(String::as_str))?;
        let seal = match &cfg.seal_key_file {
            Some(path) => {
                let key = crate::seal::SealKey::from_file(path)?;
                tracing::info!(key_file = %path.display(), "tasks are sealed: a task-dispatcher with the same key does not scan them again");
                Some(key)
            }
            None => None,
        };
        let filter = Filter {
            js: ctx.nats.jetstream.clone(),
            seal,
            names: ctx.names.clone(),
            thresholds,
            limits,
            publish_timeout: cfg.publish_timeout,
            metrics: FilterMetrics::register(&ctx.metrics),
        };
        let health = StreamHealth::new(ctx.app_status.clone());
        tracing::info!(
            streams = ?streams,
            reject = thresholds.reject,
            flag = thresholds.flag,
            model = crate::model::MODEL_VERSION,
            rules = crate::rules::RULESET_VERSION,
            "injection filter configured"
        );
        Ok(Self {
            filter,
            streams,
            worker: WorkerConfig {
                batch: cfg.batch,
                ack_wait: cfg.ack_wait,
                retry_delay: cfg.retry_delay,
            },
            health,
            max_message: max_payload + 64 * 1024,
        })
    }
}

impl App for FilterApp {
    fn add_grpc_services(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(
            InjectionFilterServer::new(GrpcFilter {
                filter: self.filter.clone(),
            })
            .max_decoding_message_size(self.max_message),
        );
    }

    fn admin_routes(&self) -> Option<axum::Router> {
        Some(http::router(self.filter.clone(), self.max_message))
    }

    async fn run(self, shutdown: ShutdownSignal) -> Result<(), BoxError> {
        // The scanner's tables are built before the first event, not during it.
        tokio::task::spawn_blocking(crate::warm_up).await?;
        let mut workers = tokio::task::JoinSet::new();
        for stream in self.streams {
            workers.spawn(worker::run(
                self.filter.clone(),
                stream,
                self.worker.clone(),
                self.health.clone(),
                shutdown.clone(),
            ));
        }
        while let Some(done) = workers.join_next().await {
            if let Err(err) = done {
                if err.is_panic() {
                    std::panic::resume_unwind(err.into_panic());
                }
            }
        }
        tracing::info!("error stream consumers drained");
        Ok(())
    }
}
