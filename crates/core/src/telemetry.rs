//! Logs and traces, set up by one function.
//!
//! `tracing` with an env filter (`RUST_LOG` wins over `telemetry.log_filter`),
//! plain or JSON lines on stderr, and OTLP trace export only when
//! `telemetry.otlp_endpoint` is set. Tests stay silent unless `TEST_LOG` is
//! set ([`init_for_tests`]).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryConfig};

/// Flushes exported traces when dropped or shut down.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Flushes and stops the trace exporter.
    pub fn shutdown(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(err) = provider.shutdown() {
                tracing::warn!(error = %err, "flushing traces failed");
            }
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The filter directives do not parse.
    #[error("telemetry.log_filter {filter:?} is invalid: {error}")]
    Filter {
        /// The directives.
        filter: String,
        /// Parser error.
        error: String,
    },
    /// The OTLP exporter could not be built.
    #[error("telemetry.otlp_endpoint {endpoint:?}: {error}")]
    Otlp {
        /// The endpoint.
        endpoint: String,
        /// Builder error.
        error: String,
    },
}

/// Installs the global subscriber for `service`. Call once, from `main`,
/// inside the Tokio runtime (the OTLP exporter needs it).
pub fn init(cfg: &TelemetryConfig, service: &str) -> Result<TelemetryGuard, TelemetryError> {
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| cfg.log_filter.clone());
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| TelemetryError::Filter {
            filter: directives.clone(),
            error: e.to_string(),
        })?;
    let fmt = match cfg.log_format {
        LogFormat::Plain => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let mut guard = TelemetryGuard::default();
    let otel = match &cfg.otlp_endpoint {
        Some(endpoint) => {
            use opentelemetry_otlp::WithExportConfig;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(|e| TelemetryError::Otlp {
                    endpoint: endpoint.clone(),
                    error: e.to_string(),
                })?;
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name(service.to_owned())
                        .build(),
                )
                .build();
            let tracer = provider.tracer(service.to_owned());
            guard.provider = Some(provider);
            Some(tracing_opentelemetry::layer().with_tracer(tracer))
        }
        None => None,
    };
    // A second init (tests building several apps in one process) keeps the first.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
    Ok(guard)
}

/// For tests: logs to the test writer only when `TEST_LOG` is set.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_none() {
        return;
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_test_writer())
        .try_init();
}
