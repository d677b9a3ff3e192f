//! task-dispatcher: turns clean errors into tasks and hands them to agents.
//!
//! - Task state lives in a NATS KV bucket (`{NS}_DISPATCH`), changed only by
//!   compare-and-set; the JetStream message in `{NS}_TASKS` is the delivery,
//!   held un-acked while the task is available or claimed.
//! - A claim raises the task's lease epoch; every agent call names it, so a
//!   stale agent is refused (FAILED_PRECONDITION) and can never ack.
//! - Agents' presence is a Redis lease renewed by heartbeats; a sweeper takes
//!   the tasks of agents whose presence expired (within two heartbeats).
//! - Retries (backoff or the agent's delay) are `-NAK`s with a delay; a
//!   permanent failure is copied to DEAD_LETTERS with its reason, then
//!   `+TERM`; a message that exhausts `max_deliver` is reported by an
//!   advisory (captured durably), copied, then deleted.
//! - Every replica pulls from one durable consumer and answers any call:
//!   nothing lives only in memory (the mirror is a cache of the bucket).

pub mod coordination;
pub mod deadletters;
pub mod dispatcher;
pub mod error;
pub mod grpc;
pub mod http;
pub mod intake;
pub mod jobs;
pub mod loops;
pub mod metrics;
pub mod record;
pub mod scan;
pub mod store;

use std::sync::Arc;

use faultline_core::service::{App, BoxError, Context};
use faultline_core::shutdown::ShutdownSignal;
use faultline_injection_filter::seal::SealKey;
use faultline_injection_filter::Thresholds;
use faultline_proto::faultline::dispatch::v1::task_dispatcher_server::TaskDispatcherServer;

pub use dispatcher::{Completion, Dispatcher};
pub use error::DispatchError;

/// The running task-dispatcher.
#[derive(Debug)]
pub struct DispatcherApp {
    dispatcher: Dispatcher,
    max_message: usize,
    status: faultline_core::service::AppStatus,
}

impl DispatcherApp {
    /// Builds the app from the common context.
    pub async fn build(ctx: Context) -> Result<Self, BoxError> {
        let cfg = ctx.config.dispatcher.clone();
        let kv = store::Kv::open(
            &ctx.nats.jetstream,
            &ctx.names.dispatch_bucket(),
            cfg.retention,
            ctx.config.provision.replicas,
        )
        .await?;
        let thresholds = Thresholds {
            flag: ctx.config.filter.flag_threshold,
            reject: ctx.config.filter.reject_threshold,
            ..Thresholds::default()
        };
        let seal = match &ctx.config.filter.seal_key_file {
            Some(path) => {
                let key = SealKey::from_file(path)?;
                tracing::info!(key_file = %path.display(), "tasks sealed by the injection-filter are taken without a second scan");
                Some(key)
            }
            None => None,
        };
        let agents = store::Agents::new(ctx.redis.clone(), ctx.names.clone(), cfg.presence_ttl());
        let max_payload = ctx.nats.client.server_info().max_payload;
        tracing::info!(
            heartbeat = ?cfg.heartbeat_interval,
            presence = ?cfg.presence_ttl(),
            ack_wait = ?cfg.ack_wait(),
            max_attempts = cfg.max_attempts,
            window = cfg.window,
            "task dispatcher configured"
        );
        let dispatcher = Dispatcher(Arc::new(dispatcher::Inner {
            cfg,
            names: ctx.names.clone(),
            client: ctx.nats.client.clone(),
            js: ctx.nats.jetstream.clone(),
            kv,
            mirror: Arc::default(),
            agents,
            instance: ctx.instance.clone(),
            thresholds,
            seal,
            metrics: metrics::DispatchMetrics::register(&ctx.metrics),
            publish_timeout: ctx.config.filter.publish_timeout,
            claiming: std::sync::Mutex::default(),
            known_fingerprints: std::sync::Mutex::default(),
        }));
        ctx.app_status
            .not_ready("loading task state from the KV bucket");
        Ok(Self {
            dispatcher,
            max_message: max_payload + 64 * 1024,
            status: ctx.app_status.clone(),
        })
    }
}

impl App for DispatcherApp {
    fn add_grpc_services(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(
            TaskDispatcherServer::new(grpc::GrpcDispatcher(self.dispatcher.clone()))
                .max_decoding_message_size(self.max_message),
        );
    }

    fn admin_routes(&self) -> Option<axum::Router> {
        Some(http::router(self.dispatcher.clone(), self.max_message))
    }

    async fn run(self, shutdown: ShutdownSignal) -> Result<(), BoxError> {
        let d = self.dispatcher;
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(store::follow(
            d.0.kv.clone(),
            d.0.mirror.clone(),
            shutdown.clone(),
        ));
        let (mirror, status) = (d.0.mirror.clone(), self.status.clone());
        tasks.spawn(async move {
            mirror.wait_synced().await;
            status.ready();
            tracing::info!("task state loaded");
        });
        tasks.spawn(intake::run(d.clone(), shutdown.clone()));
        tasks.spawn(loops::sweeper(d.clone(), shutdown.clone()));
        tasks.spawn(loops::advisories(d.clone(), shutdown.clone()));
        tasks.spawn(loops::job_watch(d.clone(), shutdown.clone()));
        while let Some(done) = tasks.join_next().await {
            if let Err(err) = done {
                if err.is_panic() {
                    std::panic::resume_unwind(err.into_panic());
                }
            }
        }
        tracing::info!("task dispatcher drained");
        Ok(())
    }
}
