//! result-publisher: agents publish status updates and results of the tasks
//! they hold; each result completes its task through the task-dispatcher
//! (fenced by the lease), is published once on
//! `{ns}.results.<outcome>.<task>`, and reaches dashboards (listings, a gRPC
//! Watch, an SSE feed) and webhooks (HMAC-signed, retried, every attempt
//! recorded). Status updates go to `{ns}.investigation.status.<task>`. Every
//! text is scanned by the injection filter's library: a flagged update or
//! result is stored with the filter's mark and explanation, for a person.

pub mod grpc;
pub mod http;
pub mod index;
pub mod metrics;
pub mod model;
pub mod publisher;
pub mod read;
pub mod watch;
pub mod webhooks;

use std::sync::Arc;

use faultline_core::service::{App, AppStatus, BoxError, Context};
use faultline_core::shutdown::ShutdownSignal;
use faultline_injection_filter::Thresholds;
use faultline_proto::faultline::dispatch::v1::task_dispatcher_client::TaskDispatcherClient;
use faultline_proto::faultline::results::v1::result_publisher_server::ResultPublisherServer;
use tokio::sync::Semaphore;
use tonic::transport::Endpoint;

pub use publisher::Publisher;

/// The running result-publisher.
#[derive(Debug)]
pub struct PublisherApp {
    publisher: Publisher,
    webhooks: Vec<webhooks::Webhook>,
    status: AppStatus,
}

impl PublisherApp {
    /// Builds the app from the common context.
    pub async fn build(ctx: Context) -> Result<Self, BoxError> {
        let cfg = ctx.config.results.clone();
        let addr = &ctx.config.services.task_dispatcher.grpc_addr;
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(cfg.dispatcher_timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        let hooks = match &cfg.webhooks_file {
            Some(path) => webhooks::load(path)?,
            None => Vec::new(),
        };
        for h in &hooks {
            tracing::info!(webhook = h.name, url = %h.url, outcomes = ?h.outcomes, "webhook configured");
        }
        let thresholds = Thresholds {
            flag: ctx.config.filter.flag_threshold,
            reject: ctx.config.filter.reject_threshold,
            ..Thresholds::default()
        };
        let publisher = Publisher(Arc::new(publisher::Inner {
            names: ctx.names.clone(),
            js: ctx.nats.jetstream.clone(),
            dispatcher: TaskDispatcherClient::new(channel),
            thresholds,
            index: Arc::new(index::Index::new(cfg.index_capacity)),
            watchers: Arc::new(Semaphore::new(cfg.max_watchers)),
            metrics: metrics::ResultMetrics::register(&ctx.metrics),
            cfg,
        }));
        ctx.app_status.not_ready("loading the results index");
        Ok(Self {
            publisher,
            webhooks: hooks,
            status: ctx.app_status.clone(),
        })
    }
}

impl App for PublisherApp {
    fn add_grpc_services(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(
            ResultPublisherServer::new(grpc::GrpcPublisher(self.publisher.clone()))
                .max_decoding_message_size(2 * 1024 * 1024),
        );
    }

    fn admin_routes(&self) -> Option<axum::Router> {
        Some(http::router(self.publisher.clone()))
    }

    async fn run(self, shutdown: ShutdownSignal) -> Result<(), BoxError> {
        let p = self.publisher;
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(index::follow(
            p.0.js.clone(),
            p.0.names.clone(),
            p.0.index.clone(),
            shutdown.clone(),
        ));
        let (index, status) = (p.0.index.clone(), self.status.clone());
        tasks.spawn(async move {
            index.wait_synced().await;
            status.ready();
            tracing::info!(results = index.len(), "results index loaded");
        });
        for hook in self.webhooks {
            tasks.spawn(webhooks::run(
                hook,
                p.0.cfg.clone(),
                p.0.names.clone(),
                p.0.js.clone(),
                p.0.metrics.clone(),
                shutdown.clone(),
            ));
        }
        while let Some(done) = tasks.join_next().await {
            if let Err(err) = done {
                if err.is_panic() {
                    std::panic::resume_unwind(err.into_panic());
                }
            }
        }
        tracing::info!("result publisher drained");
        Ok(())
    }
}
