//! error-ingest's app: builds the pipeline, binds the HTTP port, serves
//! HTTP and gRPC, and drains in-flight requests on shutdown.

use faultline_core::service::{App, BoxError, Context};
use faultline_core::shutdown::ShutdownSignal;
use faultline_event::Limits;
use faultline_proto::faultline::ingest::v1::error_ingest_server::ErrorIngestServer;
use tokio::net::TcpListener;

use crate::access::Access;
use crate::auth::ApiKeys;
use crate::counter::Counter;
use crate::grpc::GrpcIngest;
use crate::http::{router, HttpState};
use crate::limiter::RateLimiter;
use crate::metrics::IngestMetrics;
use crate::pipeline::{Ingestor, PipelineConfig};

/// The running error-ingest.
#[derive(Debug)]
pub struct IngestApp {
    http: HttpState,
    grpc: GrpcIngest,
    listener: TcpListener,
    max_message: usize,
}

impl IngestApp {
    /// Builds the app: loads the API keys, checks the limits against the
    /// NATS server, binds the HTTP port.
    pub async fn build(ctx: Context) -> Result<Self, BoxError> {
        let cfg = &ctx.config.ingest;
        let keys = ApiKeys::load(
            cfg.api_keys_file.as_deref(),
            cfg.api_keys.as_deref(),
            cfg.auth,
        )?;
        if cfg.auth {
            if keys.is_empty() {
                return Err("ingest.auth is on but no API key is configured (ingest.api_keys_file or ingest.api_keys); `faultline apikey` makes one".into());
            }
            tracing::info!(keys = keys.len(), "API keys loaded");
        } else {
            tracing::warn!(
                http = %cfg.http_addr,
                "AUTHENTICATION IS OFF (ingest.auth = false): anyone who can reach error-ingest can write events into namespace {}",
                ctx.names.namespace()
            );
        }
        let max_payload = ctx.nats.client.server_info().max_payload;
        if cfg.max_event_bytes + 4096 > max_payload {
            return Err(format!(
                "ingest.max_event_bytes = {} does not fit the NATS server's max_payload of {max_payload} bytes (with room for headers)",
                cfg.max_event_bytes
            )
            .into());
        }
        let limits = Limits {
            max_event_bytes: cfg.max_event_bytes,
            max_string_bytes: cfg.max_string_bytes,
            max_depth: cfg.max_depth,
            max_frames: cfg.max_frames,
            ..Limits::default()
        };
        let pipeline = PipelineConfig {
            limits,
            environments: ctx.config.provision.environments.keys().cloned().collect(),
            default_environment: cfg.default_environment.clone(),
            fingerprint_cap: cfg.fingerprint_cap,
            fingerprint_window: cfg.fingerprint_window,
            max_in_flight: cfg.max_in_flight,
            publish_timeout: cfg.publish_timeout,
            retry_after: cfg.retry_after,
        };
        let counter = Counter::new(
            ctx.redis.clone(),
            ctx.names.clone(),
            cfg.fingerprint_retention,
        );
        let metrics = IngestMetrics::register(&ctx.metrics);
        let ingestor = Ingestor::new(
            ctx.nats.jetstream.clone(),
            ctx.names.clone(),
            counter,
            pipeline,
            metrics,
        );
        let access = Access::new(
            keys,
            RateLimiter::new(cfg.rate_limit, cfg.rate_burst),
            ctx.names.namespace().clone(),
        );
        let bind = cfg.http_bind()?;
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|e| format!("cannot bind the HTTP port {bind}: {e}"))?;
        tracing::info!(http = %cfg.http_addr, "HTTP API listening");
        Ok(Self {
            http: HttpState {
                ingestor: ingestor.clone(),
                access: access.clone(),
                max_batch: cfg.max_batch,
                max_batch_bytes: cfg.max_batch_bytes,
            },
            grpc: GrpcIngest {
                ingestor,
                access,
                max_batch: cfg.max_batch,
            },
            listener,
            max_message: cfg.max_event_bytes + 1024,
        })
    }
}

impl App for IngestApp {
    fn add_grpc_services(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(
            ErrorIngestServer::new(self.grpc.clone()).max_decoding_message_size(self.max_message),
        );
    }

    async fn run(self, shutdown: ShutdownSignal) -> Result<(), BoxError> {
        // Graceful: stop accepting, finish the requests in flight (each
        // bounded by the publish timeout), then return.
        use axum::serve::ListenerExt;
        // Replies are small: send them at once rather than waiting on Nagle.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "TCP_NODELAY not set");
            }
        });
        axum::serve(listener, router(self.http))
            .with_graceful_shutdown(shutdown.into_future())
            .await?;
        tracing::info!("HTTP API drained");
        Ok(())
    }
}
