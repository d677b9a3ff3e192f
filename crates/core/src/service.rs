//! The life of every faultline service process, in a fixed order:
//!
//! 1. command line (`--config`, `--dump-config`, `healthcheck`), configuration
//!    (an error names the key and value and exits [`EXIT_CONFIG`]);
//! 2. telemetry, and one log line saying which NATS and Redis are used;
//! 3. the admin HTTP port (`/livez`, `/readyz`, `/metrics`), NOT_SERVING;
//! 4. NATS (bounded retries, version floor), provisioning when configured,
//!    Redis (bounded retries); unreachable → [`EXIT_UNAVAILABLE`];
//! 5. the app is built and the gRPC port opens (grpc.health.v1 + the app's services);
//! 6. the status loop: SERVING only while NATS is connected and every declared
//!    dependency has a live readiness signal (the gate); the readiness signal
//!    of this instance is asserted and renewed while SERVING, withdrawn otherwise;
//! 7. on SIGTERM/SIGINT: NOT_SERVING, readiness deleted, the app drains within
//!    `shutdown.grace_period`, servers stop, exit 0. A second signal exits at once.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_nats::connection::State as NatsState;
use clap::{Parser, Subcommand};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use redis::aio::ConnectionManager;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{self, ReadyState};
use crate::config::{Config, EXIT_CONFIG};
use crate::gate::Gate;
use crate::health::{HealthReporter, Serving};
use crate::healthcheck::{self, HealthcheckArgs};
use crate::metrics::Metrics;
use crate::names::{Names, ServiceName};
use crate::nats::Nats;
use crate::provision::{self, Mode};
use crate::readiness::{Readiness, ReadinessSignal};
use crate::shutdown::{spawn_signal_handler, Shutdown, ShutdownSignal};

/// Exit code when NATS or Redis cannot be reached at start (sysexits' EX_UNAVAILABLE).
pub const EXIT_UNAVAILABLE: i32 = 69;
/// Exit code for any other failure to start or to drain in time.
pub const EXIT_FAILURE: i32 = 1;

/// The version of the binaries.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A boxed error for app construction and run.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Command line shared by every service binary.
#[derive(Debug, Parser)]
#[command(version = VERSION, about = None)]
pub struct ServiceCli {
    /// Configuration file (TOML); environment variables override it.
    #[arg(long, global = true, env = "FAULTLINE_CONFIG_FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration (secrets redacted) and exit.
    #[arg(long)]
    pub dump_config: bool,
    /// What to do (default: run the service).
    #[command(subcommand)]
    pub command: Option<ServiceCommand>,
}

/// Subcommands of a service binary.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Run the service (the default).
    Run,
    /// Probe a running instance over grpc.health.v1. Exit codes: 0 serving,
    /// 1 bad arguments, 2 connect failed, 3 RPC failed, 4 not serving.
    Healthcheck(HealthcheckArgs),
}

/// Lets an app say it is not ready for a reason of its own.
#[derive(Debug, Clone, Default)]
pub struct AppStatus {
    blocker: Arc<Mutex<Option<String>>>,
}

impl AppStatus {
    /// The app is ready (as far as it is concerned).
    pub fn ready(&self) {
        *self.blocker.lock().expect("app status poisoned") = None;
    }
    /// The app is not ready, because of `reason`.
    pub fn not_ready(&self, reason: impl Into<String>) {
        *self.blocker.lock().expect("app status poisoned") = Some(reason.into());
    }
    fn blocker(&self) -> Option<String> {
        self.blocker.lock().expect("app status poisoned").clone()
    }
}

/// What an app gets to build itself from.
#[derive(Debug, Clone)]
pub struct Context {
    /// Which service this is.
    pub service: ServiceName,
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Names of this namespace.
    pub names: Names,
    /// NATS and JetStream.
    pub nats: Nats,
    /// Redis.
    pub redis: ConnectionManager,
    /// Readiness signals.
    pub readiness: Readiness,
    /// The metrics registry.
    pub metrics: Metrics,
    /// grpc.health.v1 statuses of this process.
    pub health: HealthReporter,
    /// The app's own readiness.
    pub app_status: AppStatus,
    /// This process's instance id.
    pub instance: String,
}

/// A service's own work, plugged into the common runtime.
pub trait App: Send + 'static {
    /// Adds the app's gRPC services (served next to grpc.health.v1).
    fn add_grpc_services(&self, _routes: &mut tonic::service::RoutesBuilder) {}
    /// Extra routes on the admin HTTP port.
    fn admin_routes(&self) -> Option<axum::Router> {
        None
    }
    /// Whether the app sets the `""` health name itself (the health-checker
    /// reports the whole system there); otherwise it mirrors the process.
    fn owns_overall_health(&self) -> bool {
        false
    }
    /// Does the work until `shutdown` fires, then drains and returns.
    fn run(self, shutdown: ShutdownSignal) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// The app of a service whose own capability has not landed yet: it serves
/// the core (health, readiness, gate, metrics) and nothing else.
#[derive(Debug, Default)]
pub struct CoreOnly;

impl App for CoreOnly {
    async fn run(self, mut shutdown: ShutdownSignal) -> Result<(), BoxError> {
        shutdown.wait().await;
        Ok(())
    }
}

/// This host's name (for instance ids).
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "localhost".into())
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(48)
        .collect()
}

/// Parses the command line; `--help` and `--version` exit 0, a usage error
/// exits 1 (grpc-health-probe's "bad arguments", for every faultline binary).
pub fn parse_args_or_exit<T: Parser>() -> T {
    match T::try_parse() {
        Ok(args) => args,
        Err(err) => {
            let code = if err.use_stderr() {
                healthcheck::exit::BAD_ARGUMENTS
            } else {
                0
            };
            let _ = err.print();
            std::process::exit(code);
        }
    }
}

/// The multi-threaded Tokio runtime every faultline binary runs on.
pub fn new_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build the Tokio runtime")
}

/// Runs a service binary: parses the command line, then runs `build`'s app
/// under the common runtime. Never returns.
#[allow(clippy::print_stdout)]
pub fn main<A, F, Fut>(service: ServiceName, build: F) -> !
where
    A: App,
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<A, BoxError>>,
{
    let cli: ServiceCli = parse_args_or_exit();
    let runtime = new_runtime();
    let config = Config::load(cli.config.as_deref());
    if let Some(ServiceCommand::Healthcheck(args)) = cli.command {
        let config = config.map_err(|e| format!("{service}: {e}"));
        let code = runtime.block_on(healthcheck::run(service, config, args));
        std::process::exit(code);
    }
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{service}: {err}");
            std::process::exit(EXIT_CONFIG);
        }
    };
    if cli.dump_config {
        print!("{}", config.dump());
        std::process::exit(0);
    }
    let code = runtime.block_on(run(service, config, build));
    // Do not wait for stray blocking tasks.
    runtime.shutdown_timeout(Duration::from_millis(200));
    std::process::exit(code);
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DependencyLabels {
    dependency: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

struct RuntimeMetrics {
    serving: Gauge,
    dependency_ready: Family<DependencyLabels, Gauge>,
    readiness_writes: Family<ResultLabels, Counter>,
}

impl RuntimeMetrics {
    fn register(metrics: &Metrics, service: ServiceName) -> Self {
        let build_info = Family::<Vec<(String, String)>, Gauge>::default();
        build_info
            .get_or_create(&vec![
                ("service".into(), service.to_string()),
                ("version".into(), VERSION.into()),
            ])
            .set(1);
        metrics.register("build_info", "Service name and version", build_info);
        let m = Self {
            serving: Gauge::default(),
            dependency_ready: Family::default(),
            readiness_writes: Family::default(),
        };
        metrics.register(
            "serving",
            "1 while this process reports SERVING",
            m.serving.clone(),
        );
        metrics.register(
            "gate_dependency_ready",
            "1 while a declared dependency has a live readiness signal",
            m.dependency_ready.clone(),
        );
        metrics.register(
            "readiness_writes",
            "Readiness signal writes (assert, renew, withdraw) by result",
            m.readiness_writes.clone(),
        );
        m
    }
}

/// Runs the service until shutdown and returns the exit code. Telemetry is
/// set up here; tests call [`run_with`] instead.
pub async fn run<A, F, Fut>(service: ServiceName, config: Config, build: F) -> i32
where
    A: App,
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<A, BoxError>>,
{
    let mut telemetry = match crate::telemetry::init(&config.telemetry, service.as_str()) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("{service}: {err}");
            return EXIT_CONFIG;
        }
    };
    let (shutdown, _) = Shutdown::new();
    spawn_signal_handler(shutdown.clone());
    let code = run_with(service, config, build, shutdown).await;
    telemetry.shutdown();
    code
}

/// Runs the service until `shutdown` fires (no signal handler, no telemetry setup).
pub async fn run_with<A, F, Fut>(
    service: ServiceName,
    config: Config,
    build: F,
    shutdown: Shutdown,
) -> i32
where
    A: App,
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<A, BoxError>>,
{
    let config = Arc::new(config);
    let started_at = SystemTime::now();
    let instance = config
        .instance
        .clone()
        .unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id()));
    let endpoint = config.services.get(service).clone();
    let deps = endpoint.depends_on.clone();
    tracing::info!(
        %service,
        version = VERSION,
        %instance,
        namespace = %config.namespace,
        nats = %config.nats.url,
        redis = %config.redis.url,
        grpc = %endpoint.grpc_addr,
        admin = %endpoint.admin_addr,
        depends_on = ?deps.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "starting"
    );

    let metrics = Metrics::new();
    let runtime_metrics = RuntimeMetrics::register(&metrics, service);
    let health = HealthReporter::new();
    health.set(service.as_str(), Serving::NotServing);
    let (ready_tx, ready_rx) = watch::channel(ReadyState {
        serving: false,
        reason: "starting".into(),
    });
    // Servers stop after the app has drained, so probes keep answering
    // NOT_SERVING during the drain.
    let (server_stop, _) = Shutdown::new();
    let mut signal = shutdown.signal();

    // Bind both ports before connecting anywhere: a port conflict fails fast.
    let admin_listener = match bind(endpoint.admin_bind(), "admin").await {
        Ok(l) => l,
        Err(code) => return code,
    };
    let grpc_listener = match bind(endpoint.grpc_bind(), "gRPC").await {
        Ok(l) => l,
        Err(code) => return code,
    };

    let connected = tokio::select! {
        r = connect_all(service, &config, &metrics, &instance) => r,
        () = signal.wait() => {
            tracing::info!("shutdown before start completed");
            return 0;
        }
    };
    let (nats, redis) = match connected {
        Ok(c) => c,
        Err(code) => return code,
    };
    let names = Names::new(config.namespace());
    let readiness = Readiness::new(redis.clone(), names.clone(), config.readiness.ttl);
    let app_status = AppStatus::default();
    let ctx = Context {
        service,
        config: config.clone(),
        names,
        nats: nats.clone(),
        redis,
        readiness: readiness.clone(),
        metrics: metrics.clone(),
        health: health.clone(),
        app_status: app_status.clone(),
        instance: instance.clone(),
    };
    let app = match build(ctx).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "cannot start");
            return EXIT_FAILURE;
        }
    };
    let owns_overall = app.owns_overall_health();
    if !owns_overall {
        health.set("", Serving::NotServing);
    }

    let admin_router = admin::router(
        service.as_str(),
        ready_rx,
        metrics.clone(),
        app.admin_routes(),
    );
    let admin_stop = server_stop.signal().into_future();
    let admin_task = tokio::spawn(async move {
        axum::serve(admin_listener, admin_router)
            .with_graceful_shutdown(admin_stop)
            .await
    });
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(health.service(server_stop.signal()));
    app.add_grpc_services(&mut routes);
    let grpc_routes = routes.routes();
    let grpc_stop = server_stop.signal().into_future();
    let grpc_task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_routes(grpc_routes)
            .serve_with_incoming_shutdown(
                // tonic sets TCP_NODELAY only on listeners it binds itself;
                // without it small replies wait for the peer's delayed ACK
                // (40 ms per call on Linux).
                tokio_stream::StreamExt::map(
                    tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                    |conn| {
                        if let Ok(stream) = &conn {
                            let _ = stream.set_nodelay(true);
                        }
                        conn
                    },
                ),
                grpc_stop,
            ),
    );
    tracing::info!(grpc = %endpoint.grpc_addr, admin = %endpoint.admin_addr, "listening");

    let app_task = tokio::spawn(app.run(shutdown.signal()));

    let signal_template = ReadinessSignal {
        service: service.to_string(),
        instance: instance.clone(),
        version: VERSION.into(),
        grpc_addr: endpoint.grpc_addr.clone(),
        admin_addr: endpoint.admin_addr.clone(),
        started_at: humantime::format_rfc3339_seconds(started_at).to_string(),
        renewed_at: String::new(),
    };
    let mut status = StatusLoop {
        service,
        config: &config,
        gate: Gate::new(readiness.clone(), deps),
        readiness: &readiness,
        signal: signal_template,
        nats: &nats,
        health: &health,
        ready_tx: &ready_tx,
        app_status: &app_status,
        metrics: &runtime_metrics,
        owns_overall,
        serving: None,
        asserted: false,
        last_assert: None,
        last_wait_log: None,
        readiness_failing: false,
    };
    let mut app_task = app_task;
    let app_result = loop {
        status.tick().await;
        tokio::select! {
            () = tokio::time::sleep(config.gate.poll_interval) => {}
            () = signal.wait() => break None,
            r = &mut app_task => break Some(r),
        }
    };

    // Shutdown (or the app stopped by itself).
    health.set_all_not_serving();
    runtime_metrics.serving.set(0);
    ready_tx.send_replace(ReadyState {
        serving: false,
        reason: "shutting down".into(),
    });
    let withdrawn = tokio::time::timeout(
        Duration::from_secs(2),
        readiness.withdraw(service, &instance),
    )
    .await;
    match withdrawn {
        Ok(Ok(())) => tracing::info!("readiness signal withdrawn"),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "could not withdraw the readiness signal; it expires by itself");
        }
        Err(_) => {
            tracing::warn!("withdrawing the readiness signal timed out; it expires by itself");
        }
    }
    let grace = config.shutdown.grace_period;
    let deadline = Instant::now() + grace;
    let mut code = 0;
    let app_outcome = match app_result {
        Some(r) => Some(r),
        None => tokio::time::timeout(grace, &mut app_task).await.ok(),
    };
    match app_outcome {
        Some(Ok(Ok(()))) => {}
        Some(Ok(Err(err))) => {
            tracing::error!(error = %err, "the service stopped with an error");
            code = EXIT_FAILURE;
        }
        Some(Err(join)) => {
            tracing::error!(error = %join, "the service task panicked");
            code = EXIT_FAILURE;
        }
        None => {
            tracing::error!(
                ?grace,
                "in-flight work did not drain within the grace period"
            );
            app_task.abort();
            code = EXIT_FAILURE;
        }
    }
    if !shutdown.signal().is_triggered() && code == 0 {
        tracing::error!("the service stopped by itself");
        code = EXIT_FAILURE;
    }
    server_stop.trigger();
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(500));
    let _ = tokio::time::timeout(remaining, async {
        let _ = grpc_task.await;
        let _ = admin_task.await;
    })
    .await;
    if let Err(err) = nats.client.flush().await {
        tracing::debug!(error = %err, "final NATS flush failed");
    }
    tracing::info!(code, "stopped");
    code
}

async fn bind(addr: Result<std::net::SocketAddr, String>, what: &str) -> Result<TcpListener, i32> {
    let addr = addr.map_err(|e| {
        tracing::error!(error = %e, "bad {what} address");
        EXIT_CONFIG
    })?;
    TcpListener::bind(addr).await.map_err(|e| {
        tracing::error!(%addr, error = %e, "cannot bind the {what} port");
        EXIT_FAILURE
    })
}

async fn connect_all(
    service: ServiceName,
    config: &Config,
    metrics: &Metrics,
    instance: &str,
) -> Result<(Nats, ConnectionManager), i32> {
    let nats = crate::nats::connect(
        &config.nats,
        &format!("faultline-{service}-{instance}"),
        metrics,
    )
    .await
    .map_err(|err| {
        tracing::error!(error = %err, "cannot start without NATS");
        match err {
            crate::nats::NatsError::TooOld { .. } | crate::nats::NatsError::Credentials { .. } => {
                EXIT_CONFIG
            }
            _ => EXIT_UNAVAILABLE,
        }
    })?;
    if config.provision.on_start {
        let specs = provision::declared_streams(&Names::new(config.namespace()), &config.provision)
            .map_err(|err| {
                tracing::error!(error = %err, "bad stream declaration");
                EXIT_CONFIG
            })?;
        let report = provision::provision(&nats.jetstream, &specs, Mode::Apply)
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "provisioning failed");
                EXIT_FAILURE
            })?;
        tracing::info!(
            streams = report.streams.len(),
            changed = report.changed(),
            "streams provisioned"
        );
    }
    let redis = crate::redis_client::connect(&config.redis)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "cannot start without Redis");
            match err {
                crate::redis_client::RedisError::Unreachable { .. } => EXIT_UNAVAILABLE,
                _ => EXIT_CONFIG,
            }
        })?;
    Ok((nats, redis))
}

struct StatusLoop<'a> {
    service: ServiceName,
    config: &'a Config,
    gate: Gate,
    readiness: &'a Readiness,
    signal: ReadinessSignal,
    nats: &'a Nats,
    health: &'a HealthReporter,
    ready_tx: &'a watch::Sender<ReadyState>,
    app_status: &'a AppStatus,
    metrics: &'a RuntimeMetrics,
    owns_overall: bool,
    serving: Option<bool>,
    asserted: bool,
    last_assert: Option<Instant>,
    last_wait_log: Option<Instant>,
    readiness_failing: bool,
}

impl StatusLoop<'_> {
    async fn tick(&mut self) {
        let gate = self.gate.check().await;
        for dep in self.gate.dependencies() {
            let ready = !gate.waiting.iter().any(|w| w.dependency == *dep);
            self.metrics
                .dependency_ready
                .get_or_create(&DependencyLabels {
                    dependency: dep.as_str(),
                })
                .set(i64::from(ready));
        }
        let reason = if self.nats.client.connection_state() != NatsState::Connected {
            Some("NATS is not connected".to_owned())
        } else if !gate.open() {
            Some(format!("waits for {}", gate.describe()))
        } else {
            self.app_status.blocker()
        };
        let serving = reason.is_none();
        let status = if serving {
            Serving::Serving
        } else {
            Serving::NotServing
        };
        self.health.set(self.service.as_str(), status);
        if !self.owns_overall {
            self.health.set("", status);
        }
        self.metrics.serving.set(i64::from(serving));
        self.ready_tx.send_if_modified(|st| {
            let new = ReadyState {
                serving,
                reason: reason.clone().unwrap_or_default(),
            };
            let changed = *st != new;
            *st = new;
            changed
        });

        if self.serving != Some(serving) {
            match &reason {
                None => tracing::info!(service = %self.service, "SERVING"),
                Some(r) if self.serving.is_some() => {
                    tracing::warn!(service = %self.service, reason = %r, "NOT_SERVING");
                }
                Some(_) => {}
            }
            self.serving = Some(serving);
        }
        if !serving {
            let due = self
                .last_wait_log
                .is_none_or(|t| t.elapsed() >= self.config.gate.log_interval);
            if due {
                self.last_wait_log = Some(Instant::now());
                if gate.open() {
                    tracing::info!(
                        "{} not serving: {}",
                        self.service,
                        reason.as_deref().unwrap_or("")
                    );
                } else {
                    for w in &gate.waiting {
                        tracing::info!(dependency = %w.dependency, "{} waits for {w}", self.service);
                    }
                }
            }
        } else {
            self.last_wait_log = None;
        }

        let renew = self.config.readiness.renew_interval;
        if serving {
            let due = self.last_assert.is_none_or(|t| t.elapsed() >= renew) || !self.asserted;
            if due {
                self.write(true).await;
            }
        } else if self.asserted {
            self.write(false).await;
        }
    }

    async fn write(&mut self, assert: bool) {
        let result = if assert {
            self.readiness.assert(self.service, &self.signal).await
        } else {
            self.readiness
                .withdraw(self.service, &self.signal.instance)
                .await
        };
        match result {
            Ok(()) => {
                self.metrics
                    .readiness_writes
                    .get_or_create(&ResultLabels { result: "ok" })
                    .inc();
                if self.readiness_failing {
                    tracing::info!("readiness signal written again");
                }
                self.readiness_failing = false;
                self.asserted = assert;
                self.last_assert = assert.then(Instant::now);
            }
            Err(err) => {
                self.metrics
                    .readiness_writes
                    .get_or_create(&ResultLabels { result: "error" })
                    .inc();
                if !self.readiness_failing {
                    tracing::warn!(error = %err, "cannot write the readiness signal to Redis; retrying every poll");
                }
                self.readiness_failing = true;
                // A failed withdraw leaves a signal that expires by itself.
                if !assert {
                    self.asserted = false;
                }
            }
        }
    }
}
