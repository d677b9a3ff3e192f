//! Configuration: defaults → optional file (`--config`) → the seed documents'
//! variables (`NATS_URL`, `NATS_NAMESPACE`, `REDIS_URL`) → `FAULTLINE_…`
//! variables (`__` separates nesting levels), then validation.
//!
//! Every key is known: an unknown key in the file or in a `FAULTLINE_`
//! variable is an error, so a typo never silently falls back to a default.
//! Secrets are typed ([`Secret`]) and URLs are redacted whenever the config is
//! printed or logged.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::names::{self, Namespace, ServiceName};

/// Exit code of a process that stops because of its configuration (sysexits' EX_CONFIG).
pub const EXIT_CONFIG: i32 = 78;

/// The prefix of faultline's environment variables.
pub const ENV_PREFIX: &str = "FAULTLINE";

/// The variable naming the config file (the `--config` flag's default); not a config key.
pub const ENV_CONFIG_FILE: &str = "FAULTLINE_CONFIG_FILE";

/// A configuration problem, naming the key and the bad value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or an environment variable could not be read or parsed.
    #[error("cannot load configuration: {0}")]
    Load(String),
    /// Values that parse but are not acceptable.
    #[error("invalid configuration:\n{}", .0.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Invalid>),
}

/// One invalid value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Dotted key, as in the file (`nats.url`).
    pub key: String,
    /// The refused value (redacted when secret).
    pub value: String,
    /// Why it was refused.
    pub problem: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {:?}: {} (env {})",
            self.key,
            self.value,
            self.problem,
            env_var_for(&self.key)
        )
    }
}

/// The environment variable that sets a dotted key.
pub fn env_var_for(key: &str) -> String {
    format!(
        "{ENV_PREFIX}_{}",
        key.replace('.', "__").to_ascii_uppercase()
    )
}

/// A string that never prints: `Debug`, `Display` and `Serialize` show `***`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// A URL (or comma-separated list of URLs) that may carry credentials.
/// It prints with the password replaced by `***`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Url(String);

impl Url {
    /// Wraps a URL.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The URL with its credentials, for the client that connects.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for Url {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

/// Replaces the password (or a lone token) in `scheme://user:pass@host` with `***`,
/// for each URL of a comma-separated list.
pub fn redact_url(urls: &str) -> String {
    urls.split(',')
        .map(|url| {
            let Some(scheme_end) = url.find("://") else {
                return url.to_owned();
            };
            let rest = &url[scheme_end + 3..];
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let authority = &rest[..authority_end];
            let Some(at) = authority.rfind('@') else {
                return url.to_owned();
            };
            let userinfo = &authority[..at];
            let redacted = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => "***".to_owned(),
            };
            format!("{}{}{}", &url[..scheme_end + 3], redacted, &rest[at..])
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The whole configuration of a faultline process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Project namespace: `[a-z0-9_]+`. Also read from `NATS_NAMESPACE`.
    pub namespace: String,
    /// This process's instance id in readiness signals (default: hostname-pid).
    pub instance: Option<String>,
    /// NATS connection.
    pub nats: NatsConfig,
    /// Redis connection.
    pub redis: RedisConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// Readiness signals in Redis.
    pub readiness: ReadinessConfig,
    /// The startup gate.
    pub gate: GateConfig,
    /// Graceful shutdown.
    pub shutdown: ShutdownConfig,
    /// Stream provisioning.
    pub provision: ProvisionConfig,
    /// The health-checker's checks.
    pub health: HealthConfig,
    /// error-ingest's own settings.
    pub ingest: IngestConfig,
    /// injection-filter's own settings.
    pub filter: FilterConfig,
    /// task-dispatcher's own settings.
    pub dispatcher: DispatcherConfig,
    /// result-publisher's own settings.
    pub results: ResultsConfig,
    /// Where every service listens and what it depends on.
    pub services: ServicesConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namespace: "faultline".into(),
            instance: None,
            nats: NatsConfig::default(),
            redis: RedisConfig::default(),
            telemetry: TelemetryConfig::default(),
            readiness: ReadinessConfig::default(),
            gate: GateConfig::default(),
            shutdown: ShutdownConfig::default(),
            provision: ProvisionConfig::default(),
            health: HealthConfig::default(),
            ingest: IngestConfig::default(),
            filter: FilterConfig::default(),
            dispatcher: DispatcherConfig::default(),
            results: ResultsConfig::default(),
            services: ServicesConfig::default(),
        }
    }
}

/// NATS connection settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URL, or a comma-separated list for a cluster. Also read from `NATS_URL`.
    pub url: Url,
    /// A `.creds` file (JWT + nkey seed).
    pub credentials_file: Option<PathBuf>,
    /// User name for user/password auth.
    pub user: Option<String>,
    /// Password for user/password auth (prefer `password_file`).
    pub password: Option<Secret>,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
    /// File holding an auth token.
    pub token_file: Option<PathBuf>,
    /// PEM CA bundle; setting it requires TLS.
    pub tls_ca_file: Option<PathBuf>,
    /// Timeout of one connection attempt.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Attempts before giving up at start.
    pub connect_attempts: u32,
    /// First backoff between attempts; doubles up to `backoff_max`.
    #[serde(with = "humantime_serde")]
    pub backoff_initial: Duration,
    /// Largest backoff between attempts.
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Timeout of a JetStream API request.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: Url::new("nats://127.0.0.1:4222"),
            credentials_file: None,
            user: None,
            password: None,
            password_file: None,
            token_file: None,
            tls_ca_file: None,
            connect_timeout: Duration::from_secs(5),
            connect_attempts: 10,
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// Redis connection settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`. Also read from `REDIS_URL`.
    pub url: Url,
    /// File holding the password (overrides one in the URL).
    pub password_file: Option<PathBuf>,
    /// Timeout of connecting and of one command.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts before giving up at start.
    pub connect_attempts: u32,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: Url::new("redis://127.0.0.1:6379"),
            password_file: None,
            timeout: Duration::from_secs(2),
            connect_attempts: 10,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line.
    Json,
}

/// Logs and traces.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// `tracing` env-filter directives; `RUST_LOG` overrides it when set.
    pub log_filter: String,
    /// `plain` or `json`.
    pub log_format: LogFormat,
    /// OTLP/gRPC endpoint (`http://127.0.0.1:4317`); traces are exported only when set.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_filter: "info".into(),
            log_format: LogFormat::Plain,
            otlp_endpoint: None,
        }
    }
}

/// Readiness signals: leases in Redis.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadinessConfig {
    /// Lifetime of a signal; a process that stops renewing it is gone after this.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// How often a signal is renewed (at most a third of `ttl`).
    #[serde(with = "humantime_serde")]
    pub renew_interval: Duration,
}

impl Default for ReadinessConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(15),
            renew_interval: Duration::from_secs(5),
        }
    }
}

/// The startup gate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    /// How often dependencies' signals are read.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How often "waits for" is logged while waiting.
    #[serde(with = "humantime_serde")]
    pub log_interval: Duration,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            log_interval: Duration::from_secs(5),
        }
    }
}

/// Graceful shutdown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    /// Time given to in-flight work after SIGTERM before the process exits anyway.
    #[serde(with = "humantime_serde")]
    pub grace_period: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            // Below Docker's and compose's default stop timeout of 10 s.
            grace_period: Duration::from_secs(8),
        }
    }
}

/// Where one kind of stream keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// On disk (the default).
    File,
    /// In memory (tests, throwaway setups).
    Memory,
}

/// One environment's error stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvironmentStream {
    /// Duplicate window of `Nats-Msg-Id`.
    #[serde(with = "humantime_serde")]
    pub dedup_window: Duration,
    /// How long an unprocessed error is kept.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
}

impl Default for EnvironmentStream {
    fn default() -> Self {
        Self {
            dedup_window: Duration::from_secs(24 * 3600),
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Stream provisioning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisionConfig {
    /// Provision (create or update) the streams when a service starts.
    pub on_start: bool,
    /// Stream replicas: 1 for a single server, 3 on a cluster.
    pub replicas: usize,
    /// `file` or `memory`.
    pub storage: Storage,
    /// Environments, each with its own error stream `{NS}_{ENV}_ERRORS`.
    pub environments: BTreeMap<String, EnvironmentStream>,
}

impl Default for ProvisionConfig {
    fn default() -> Self {
        Self {
            on_start: false,
            replicas: 1,
            storage: Storage::File,
            environments: ["staging", "production"]
                .into_iter()
                .map(|e| (e.to_owned(), EnvironmentStream::default()))
                .collect(),
        }
    }
}

/// The health-checker's checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// How often every component is checked.
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
    /// Timeout of one check.
    #[serde(with = "humantime_serde")]
    pub check_timeout: Duration,
    /// An error stream whose oldest waiting event has not moved for this
    /// long is reported as stalled (the pipeline component).
    #[serde(with = "humantime_serde")]
    pub stall_after: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            check_interval: Duration::from_secs(2),
            check_timeout: Duration::from_secs(1),
            stall_after: Duration::from_secs(120),
        }
    }
}

/// error-ingest's own settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Where producers reach the HTTP API (`host:port`).
    pub http_addr: String,
    /// Local address to bind for HTTP (default: derived from `http_addr`).
    pub http_listen: Option<SocketAddr>,
    /// Require an API key. Turning it off is logged loudly at start.
    pub auth: bool,
    /// File of API keys: one per line, `<namespace> <name> sha256:<hex>`; `#` starts a comment.
    pub api_keys_file: Option<PathBuf>,
    /// API keys from the environment: `<namespace>:<name>:sha256:<hex>`, separated by `,`.
    pub api_keys: Option<String>,
    /// Environment for events that name none (none: they go to `{ns}.errors`).
    pub default_environment: Option<String>,
    /// Largest event in bytes, after decompression. Must stay below the NATS max payload.
    pub max_event_bytes: usize,
    /// Longest string value in bytes.
    pub max_string_bytes: usize,
    /// Deepest nesting of objects and arrays.
    pub max_depth: usize,
    /// Most stack frames.
    pub max_frames: usize,
    /// Most events in one batch.
    pub max_batch: usize,
    /// Largest batch body in bytes (after decompression).
    pub max_batch_bytes: usize,
    /// Sustained requests per second per API key.
    pub rate_limit: f64,
    /// Burst per API key.
    pub rate_burst: f64,
    /// At most this many events of one fingerprint are forwarded per window
    /// by one error-ingest instance; the rest are only counted.
    pub fingerprint_cap: u64,
    /// The window of `fingerprint_cap`.
    #[serde(with = "humantime_serde")]
    pub fingerprint_window: Duration,
    /// How long a fingerprint's counters are kept after it was last seen.
    #[serde(with = "humantime_serde")]
    pub fingerprint_retention: Duration,
    /// Events being published at once; more are refused with 503 rather than queued.
    pub max_in_flight: usize,
    /// How long to wait for a JetStream ack.
    #[serde(with = "humantime_serde")]
    pub publish_timeout: Duration,
    /// `Retry-After` sent with 503 (a 429 says when the key's bucket refills).
    #[serde(with = "humantime_serde")]
    pub retry_after: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            http_addr: "127.0.0.1:8080".into(),
            http_listen: None,
            auth: true,
            api_keys_file: None,
            api_keys: None,
            default_environment: None,
            max_event_bytes: 256 * 1024,
            max_string_bytes: 16 * 1024,
            max_depth: 8,
            max_frames: 250,
            max_batch: 100,
            max_batch_bytes: 4 * 1024 * 1024,
            rate_limit: 1000.0,
            rate_burst: 2000.0,
            fingerprint_cap: 100,
            fingerprint_window: Duration::from_secs(60),
            fingerprint_retention: Duration::from_secs(30 * 24 * 3600),
            max_in_flight: 1024,
            publish_timeout: Duration::from_secs(5),
            retry_after: Duration::from_secs(1),
        }
    }
}

impl IngestConfig {
    /// The address to bind for HTTP.
    pub fn http_bind(&self) -> Result<SocketAddr, String> {
        listen_addr(self.http_listen, &self.http_addr)
    }
}

/// injection-filter's own settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    /// Scores at or above this are rejected: held for review on
    /// `{ns}.security.rejected`, never handed to an agent.
    pub reject_threshold: f32,
    /// Scores at or above this (and below `reject_threshold`) are flagged:
    /// the task carries the mark and a record goes to `{ns}.security.flagged`.
    pub flag_threshold: f32,
    /// Messages taken from an error stream at once (and processed concurrently).
    pub batch: usize,
    /// How long a taken message may stay unacknowledged before redelivery.
    #[serde(with = "humantime_serde")]
    pub ack_wait: Duration,
    /// How long to wait for a JetStream ack of a task or a security record.
    #[serde(with = "humantime_serde")]
    pub publish_timeout: Duration,
    /// Redelivery delay after a failure to publish (NATS unavailable, ...).
    #[serde(with = "humantime_serde")]
    pub retry_delay: Duration,
    /// A file holding the scan seal key (at least 32 bytes; `openssl rand
    /// -hex 32`), read by the injection-filter and the task-dispatcher. With
    /// it, the filter seals each task it publishes (HMAC-SHA256 over the
    /// message and the scanner's versions) and the dispatcher takes a task
    /// whose seal verifies without scanning it again. Without it, the
    /// dispatcher scans every task (`FAULTLINE_FILTER__SEAL_KEY_FILE`). Only
    /// those two read it (and refuse to start when they cannot), so other
    /// services need not have the file.
    pub seal_key_file: Option<PathBuf>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            reject_threshold: 0.95,
            flag_threshold: 0.5,
            batch: 64,
            ack_wait: Duration::from_secs(30),
            publish_timeout: Duration::from_secs(5),
            retry_delay: Duration::from_secs(1),
            seal_key_file: None,
        }
    }
}

/// task-dispatcher's own settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DispatcherConfig {
    /// How often agents heartbeat. An agent that misses heartbeats for
    /// `lease_factor` intervals loses its tasks.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Heartbeat intervals an agent's presence outlives its last heartbeat
    /// (more than 1, less than 2: tasks move within two intervals).
    pub lease_factor: f64,
    /// How long one attempt may hold a task, even while heartbeating.
    #[serde(with = "humantime_serde")]
    pub max_attempt_time: Duration,
    /// Deliveries of a task before it is dead-lettered (the consumer's
    /// `max_deliver`; a lease lost or a retryable failure is one attempt).
    pub max_attempts: u32,
    /// Retry backoff: the first delay, the factor, and the cap.
    #[serde(with = "humantime_serde")]
    pub backoff_initial: Duration,
    /// Factor between successive retry delays.
    pub backoff_factor: f64,
    /// The longest retry delay.
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Tasks each replica holds ready to hand out (the dispatch window:
    /// priorities order the tasks inside it).
    pub window: usize,
    /// A waiting task gains one priority level per `aging`, so lower
    /// priorities are never starved.
    #[serde(with = "humantime_serde")]
    pub aging: Duration,
    /// The longest a claim waits for a task (long poll).
    #[serde(with = "humantime_serde")]
    pub claim_max_wait: Duration,
    /// A fingerprint whose tasks were dead-lettered this many times spawns
    /// no more tasks until a person clears it.
    pub suppress_after_dead: u32,
    /// Replays allowed per dead letter.
    pub replay_budget: u32,
    /// A job with nothing picked up, or no progress, for this long is stalled.
    #[serde(with = "humantime_serde")]
    pub stall_after: Duration,
    /// How long task records are kept after they end.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(10),
            lease_factor: 1.5,
            max_attempt_time: Duration::from_secs(2 * 3600),
            max_attempts: 5,
            backoff_initial: Duration::from_secs(1),
            backoff_factor: 2.0,
            backoff_max: Duration::from_secs(300),
            window: 512,
            aging: Duration::from_secs(60),
            claim_max_wait: Duration::from_secs(30),
            suppress_after_dead: 3,
            replay_budget: 3,
            stall_after: Duration::from_secs(600),
            retention: Duration::from_secs(7 * 86_400),
        }
    }
}

impl DispatcherConfig {
    /// How long an agent's presence outlives its last heartbeat.
    pub fn presence_ttl(&self) -> Duration {
        self.heartbeat_interval.mul_f64(self.lease_factor)
    }

    /// The tasks consumer's ack wait: three heartbeat intervals, so a
    /// missed `+WPI` or two never redelivers a held task.
    pub fn ack_wait(&self) -> Duration {
        self.heartbeat_interval * 3
    }

    /// The retry delay after `attempt` failed attempts (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.backoff_initial.as_secs_f64() * self.backoff_factor.powi(exp);
        if secs.is_finite() {
            Duration::from_secs_f64(secs.min(self.backoff_max.as_secs_f64()))
        } else {
            self.backoff_max
        }
    }
}

/// result-publisher's own settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResultsConfig {
    /// The longest text field of a status update or result (bytes).
    pub max_text_bytes: usize,
    /// Artifacts per result.
    pub max_artifacts: usize,
    /// How long a call to the task-dispatcher may take.
    #[serde(with = "humantime_serde")]
    pub dispatcher_timeout: Duration,
    /// How long a publish may wait for its JetStream ack.
    #[serde(with = "humantime_serde")]
    pub publish_timeout: Duration,
    /// Watchers (gRPC `Watch` and SSE) served at once.
    pub max_watchers: usize,
    /// Results kept in the in-memory index that answers listings.
    pub index_capacity: usize,
    /// A TOML file of webhooks (`[[webhook]]` with `name`, `url`, and
    /// `secret_file` or `secret_env`; optional `outcomes`).
    pub webhooks_file: Option<PathBuf>,
    /// How long one webhook request may take.
    #[serde(with = "humantime_serde")]
    pub webhook_timeout: Duration,
    /// Tries per result and webhook before giving up.
    pub webhook_max_attempts: u32,
    /// The delay before the first retry; it doubles up to `webhook_backoff_max`.
    #[serde(with = "humantime_serde")]
    pub webhook_backoff_initial: Duration,
    /// The longest delay between retries.
    #[serde(with = "humantime_serde")]
    pub webhook_backoff_max: Duration,
}

impl Default for ResultsConfig {
    fn default() -> Self {
        Self {
            max_text_bytes: 64 * 1024,
            max_artifacts: 100,
            dispatcher_timeout: Duration::from_secs(10),
            publish_timeout: Duration::from_secs(5),
            max_watchers: 256,
            index_capacity: 100_000,
            webhooks_file: None,
            webhook_timeout: Duration::from_secs(10),
            webhook_max_attempts: 8,
            webhook_backoff_initial: Duration::from_secs(1),
            webhook_backoff_max: Duration::from_secs(600),
        }
    }
}

impl ResultsConfig {
    /// The delay after `attempt` failed deliveries (1-based).
    pub fn webhook_backoff(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(30);
        self.webhook_backoff_initial
            .saturating_mul(1 << shift)
            .min(self.webhook_backoff_max)
    }
}

/// Where a service listens, where others reach it, and what it waits for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEndpoint {
    /// Where others reach its gRPC port (`host:port`).
    pub grpc_addr: String,
    /// Where others reach its admin HTTP port (`/livez`, `/readyz`, `/metrics`).
    pub admin_addr: String,
    /// Local address to bind for gRPC (default: `grpc_addr` if it is an IP, else 0.0.0.0 and its port).
    #[serde(default)]
    pub grpc_listen: Option<SocketAddr>,
    /// Local address to bind for admin HTTP (default: as for `grpc_listen`).
    #[serde(default)]
    pub admin_listen: Option<SocketAddr>,
    /// Services that must be ready before this one reports SERVING
    /// (a list, or a comma-separated string from the environment).
    #[serde(default, deserialize_with = "de_service_list")]
    pub depends_on: Vec<ServiceName>,
}

impl ServiceEndpoint {
    fn new(grpc_port: u16, admin_port: u16, depends_on: &[ServiceName]) -> Self {
        Self {
            grpc_addr: format!("127.0.0.1:{grpc_port}"),
            admin_addr: format!("127.0.0.1:{admin_port}"),
            grpc_listen: None,
            admin_listen: None,
            depends_on: depends_on.to_vec(),
        }
    }

    /// The address to bind for gRPC.
    pub fn grpc_bind(&self) -> Result<SocketAddr, String> {
        listen_addr(self.grpc_listen, &self.grpc_addr)
    }

    /// The address to bind for admin HTTP.
    pub fn admin_bind(&self) -> Result<SocketAddr, String> {
        listen_addr(self.admin_listen, &self.admin_addr)
    }
}

fn listen_addr(explicit: Option<SocketAddr>, advertised: &str) -> Result<SocketAddr, String> {
    if let Some(addr) = explicit {
        return Ok(addr);
    }
    if let Ok(addr) = advertised.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let port = advertised
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .ok_or_else(|| "expected host:port".to_owned())?;
    Ok(SocketAddr::from(([0, 0, 0, 0], port)))
}

fn de_service_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ServiceName>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        Str(String),
    }
    let items = match ListOrString::deserialize(d)? {
        ListOrString::List(v) => v,
        ListOrString::Str(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    items
        .iter()
        .map(|s| {
            ServiceName::parse(s).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown service {s:?} in depends_on (known: {})",
                    ServiceName::ALL.map(ServiceName::as_str).join(", ")
                ))
            })
        })
        .collect()
}

/// Every service's endpoints, keyed by config key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServicesConfig {
    /// error-ingest.
    pub error_ingest: ServiceEndpoint,
    /// injection-filter.
    pub injection_filter: ServiceEndpoint,
    /// task-dispatcher.
    pub task_dispatcher: ServiceEndpoint,
    /// result-publisher.
    pub result_publisher: ServiceEndpoint,
    /// health-checker.
    pub health_checker: ServiceEndpoint,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        use ServiceName::*;
        Self {
            health_checker: ServiceEndpoint::new(50050, 9090, &[]),
            error_ingest: ServiceEndpoint::new(50051, 9091, &[]),
            injection_filter: ServiceEndpoint::new(50052, 9092, &[]),
            task_dispatcher: ServiceEndpoint::new(50053, 9093, &[InjectionFilter]),
            result_publisher: ServiceEndpoint::new(50054, 9094, &[TaskDispatcher, InjectionFilter]),
        }
    }
}

impl ServicesConfig {
    /// One service's endpoints.
    pub fn get(&self, name: ServiceName) -> &ServiceEndpoint {
        match name {
            ServiceName::ErrorIngest => &self.error_ingest,
            ServiceName::InjectionFilter => &self.injection_filter,
            ServiceName::TaskDispatcher => &self.task_dispatcher,
            ServiceName::ResultPublisher => &self.result_publisher,
            ServiceName::HealthChecker => &self.health_checker,
        }
    }

    /// The dependency graph (service → what it waits for).
    pub fn graph(&self) -> BTreeMap<ServiceName, Vec<ServiceName>> {
        ServiceName::ALL
            .into_iter()
            .map(|s| (s, self.get(s).depends_on.clone()))
            .collect()
    }
}

/// Finds a dependency cycle, returned as the path that closes it.
pub fn find_cycle(graph: &BTreeMap<ServiceName, Vec<ServiceName>>) -> Option<Vec<ServiceName>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        node: ServiceName,
        graph: &BTreeMap<ServiceName, Vec<ServiceName>>,
        marks: &mut BTreeMap<ServiceName, Mark>,
        path: &mut Vec<ServiceName>,
    ) -> Option<Vec<ServiceName>> {
        match marks.get(&node).copied().unwrap_or(Mark::New) {
            Mark::Done => return None,
            Mark::Active => {
                let start = path.iter().position(|n| *n == node).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(node);
                return Some(cycle);
            }
            Mark::New => {}
        }
        marks.insert(node, Mark::Active);
        path.push(node);
        for dep in graph.get(&node).into_iter().flatten() {
            if let Some(cycle) = visit(*dep, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(*node, graph, &mut marks, &mut path) {
            return Some(cycle);
        }
    }
    None
}

impl Config {
    /// Loads the configuration from the process environment and an optional file.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::load_with_env(file, &env)
    }

    /// Loads the configuration from `env` (instead of the process
    /// environment) and an optional file, then validates it.
    pub fn load_with_env(
        file: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        // Defaults as the lowest source, so that one key of a table (say
        // services.error_ingest.grpc_addr) can be set without the others.
        // Maps are merged key by key, so the default environments are left
        // out here and filled in only when none is configured: a configured
        // set replaces the default one instead of adding to it.
        let mut base = Config::default();
        base.provision.environments.clear();
        let defaults = config::Config::try_from(&base)
            .map_err(|e| ConfigError::Load(format!("defaults: {e}")))?;
        let mut builder = config::Config::builder().add_source(defaults);
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path).required(true));
        }
        // The seed documents' variables, below faultline's own.
        let legacy: HashMap<String, String> = [
            ("NATS_URL", "nats__url"),
            ("NATS_NAMESPACE", "namespace"),
            ("REDIS_URL", "redis__url"),
        ]
        .into_iter()
        .filter_map(|(var, key)| env.get(var).map(|v| (key.to_owned(), v.clone())))
        .collect();
        builder = builder.add_source(
            config::Environment::default()
                .separator("__")
                .source(Some(legacy)),
        );
        let ours: HashMap<String, String> = env
            .iter()
            .filter(|(k, _)| {
                k.starts_with(&format!("{ENV_PREFIX}_")) && k.as_str() != ENV_CONFIG_FILE
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .source(Some(ours)),
        );
        let raw = builder
            .build()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        let mut cfg: Config = raw
            .try_deserialize()
            .map_err(|e| ConfigError::Load(explain_deserialize_error(&e.to_string())))?;
        if cfg.provision.environments.is_empty() {
            cfg.provision.environments = ProvisionConfig::default().environments;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every value that parses but may still be wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut bad = Vec::new();
        let mut check = |key: &str, value: String, problem: Option<String>| {
            if let Some(problem) = problem {
                bad.push(Invalid {
                    key: key.to_owned(),
                    value,
                    problem,
                });
            }
        };
        check(
            "namespace",
            self.namespace.clone(),
            Namespace::new(self.namespace.clone())
                .err()
                .map(|_| "use 1 to 32 characters of a-z, 0-9 and _".to_owned()),
        );
        if let Some(instance) = &self.instance {
            check(
                "instance",
                instance.clone(),
                names::token("instance", instance)
                    .err()
                    .map(|_| "use 1 to 64 characters of a-z, 0-9, _ and -".to_owned()),
            );
        }
        for url in self.nats.url.expose().split(',') {
            let url = url.trim();
            let scheme = url.split_once("://").map(|(s, _)| s);
            let problem = match scheme {
                Some("nats" | "tls" | "ws" | "wss") => {
                    host_port_problem(url.split_once("://").map(|(_, r)| r).unwrap_or(""))
                }
                Some(other) => Some(format!("scheme {other:?} is not one of nats, tls, ws, wss")),
                None => Some("expected nats://host:port".into()),
            };
            check("nats.url", redact_url(url), problem);
        }
        {
            let url = self.redis.url.expose();
            let problem = match url.split_once("://") {
                Some(("redis" | "rediss", rest)) => host_port_problem(rest),
                Some((other, _)) => Some(format!("scheme {other:?} is not redis or rediss")),
                None => Some("expected redis://host:port".into()),
            };
            check("redis.url", self.redis.url.redacted(), problem);
        }
        for (key, file) in [
            ("nats.credentials_file", &self.nats.credentials_file),
            ("nats.password_file", &self.nats.password_file),
            ("nats.token_file", &self.nats.token_file),
            ("nats.tls_ca_file", &self.nats.tls_ca_file),
            ("redis.password_file", &self.redis.password_file),
        ] {
            if let Some(path) = file {
                check(
                    key,
                    path.display().to_string(),
                    (!path.is_file()).then(|| "file does not exist".to_owned()),
                );
            }
        }
        for (key, attempts) in [
            ("nats.connect_attempts", self.nats.connect_attempts),
            ("redis.connect_attempts", self.redis.connect_attempts),
        ] {
            check(
                key,
                attempts.to_string(),
                (attempts == 0 || attempts > 1000).then(|| "must be 1 to 1000".to_owned()),
            );
        }
        for (key, d) in [
            ("nats.connect_timeout", self.nats.connect_timeout),
            ("nats.backoff_initial", self.nats.backoff_initial),
            ("nats.request_timeout", self.nats.request_timeout),
            ("redis.timeout", self.redis.timeout),
            ("gate.poll_interval", self.gate.poll_interval),
            ("gate.log_interval", self.gate.log_interval),
            ("health.check_interval", self.health.check_interval),
            ("health.check_timeout", self.health.check_timeout),
            ("health.stall_after", self.health.stall_after),
        ] {
            check(
                key,
                humantime::format_duration(d).to_string(),
                d.is_zero().then(|| "must be greater than zero".to_owned()),
            );
        }
        check(
            "nats.backoff_max",
            humantime::format_duration(self.nats.backoff_max).to_string(),
            (self.nats.backoff_max < self.nats.backoff_initial)
                .then(|| "must be at least nats.backoff_initial".to_owned()),
        );
        let r = &self.readiness;
        check(
            "readiness.ttl",
            humantime::format_duration(r.ttl).to_string(),
            (r.ttl < Duration::from_secs(1))
                .then(|| "must be at least 1s (Redis EX has second resolution)".to_owned()),
        );
        check(
            "readiness.renew_interval",
            humantime::format_duration(r.renew_interval).to_string(),
            (r.renew_interval.is_zero() || r.renew_interval * 3 > r.ttl).then(|| {
                "must be greater than zero and at most a third of readiness.ttl".to_owned()
            }),
        );
        check(
            "provision.replicas",
            self.provision.replicas.to_string(),
            (!matches!(self.provision.replicas, 1 | 3 | 5)).then(|| "must be 1, 3 or 5".to_owned()),
        );
        for (env, stream) in &self.provision.environments {
            let key = format!("provision.environments.{env}");
            check(
                &key,
                env.clone(),
                names::token("environment", env)
                    .err()
                    .map(|_| "environment names use a-z, 0-9, _ and -".to_owned()),
            );
            check(
                &format!("{key}.dedup_window"),
                humantime::format_duration(stream.dedup_window).to_string(),
                (stream.dedup_window.is_zero() || stream.dedup_window > stream.max_age)
                    .then(|| "must be greater than zero and at most max_age".to_owned()),
            );
        }
        let ing = &self.ingest;
        check(
            "ingest.http_addr",
            ing.http_addr.clone(),
            ing.http_bind().err(),
        );
        check(
            "ingest.max_event_bytes",
            ing.max_event_bytes.to_string(),
            (ing.max_event_bytes < 1024 || ing.max_event_bytes > 960 * 1024).then(|| {
                "must be 1 KiB to 960 KiB (below the NATS default max payload of 1 MiB)".to_owned()
            }),
        );
        check(
            "ingest.max_string_bytes",
            ing.max_string_bytes.to_string(),
            (ing.max_string_bytes == 0 || ing.max_string_bytes > ing.max_event_bytes)
                .then(|| "must be greater than zero and at most ingest.max_event_bytes".to_owned()),
        );
        for (key, v, lo, hi) in [
            ("ingest.max_depth", ing.max_depth, 2, 64),
            ("ingest.max_frames", ing.max_frames, 1, 10_000),
            ("ingest.max_batch", ing.max_batch, 1, 10_000),
            ("ingest.max_in_flight", ing.max_in_flight, 1, 1_000_000),
            (
                "ingest.max_batch_bytes",
                ing.max_batch_bytes,
                1024,
                64 * 1024 * 1024,
            ),
        ] {
            check(
                key,
                v.to_string(),
                (v < lo || v > hi).then(|| format!("must be {lo} to {hi}")),
            );
        }
        check(
            "ingest.rate_limit",
            ing.rate_limit.to_string(),
            (ing.rate_limit.is_nan() || ing.rate_limit <= 0.0 || !ing.rate_limit.is_finite())
                .then(|| "must be a positive number".to_owned()),
        );
        check(
            "ingest.rate_burst",
            ing.rate_burst.to_string(),
            (ing.rate_burst.is_nan() || ing.rate_burst < 1.0 || !ing.rate_burst.is_finite())
                .then(|| "must be at least 1".to_owned()),
        );
        check(
            "ingest.fingerprint_cap",
            ing.fingerprint_cap.to_string(),
            (ing.fingerprint_cap == 0).then(|| "must be at least 1".to_owned()),
        );
        for (key, d) in [
            ("ingest.fingerprint_window", ing.fingerprint_window),
            ("ingest.fingerprint_retention", ing.fingerprint_retention),
            ("ingest.publish_timeout", ing.publish_timeout),
            ("ingest.retry_after", ing.retry_after),
        ] {
            check(
                key,
                humantime::format_duration(d).to_string(),
                (d < Duration::from_millis(1)).then(|| "must be greater than zero".to_owned()),
            );
        }
        if let Some(env) = &ing.default_environment {
            check(
                "ingest.default_environment",
                env.clone(),
                (!self.provision.environments.contains_key(env)).then(|| {
                    format!(
                        "not a configured environment (provision.environments: {})",
                        self.provision
                            .environments
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }),
            );
        }
        if let Some(path) = &ing.api_keys_file {
            check(
                "ingest.api_keys_file",
                path.display().to_string(),
                (!path.is_file()).then(|| "file does not exist".to_owned()),
            );
        }
        let filter = &self.filter;
        check(
            "filter.reject_threshold",
            filter.reject_threshold.to_string(),
            (!(filter.reject_threshold > 0.0 && filter.reject_threshold <= 1.0))
                .then(|| "must be greater than 0 and at most 1".to_owned()),
        );
        check(
            "filter.flag_threshold",
            filter.flag_threshold.to_string(),
            (!(filter.flag_threshold > 0.0 && filter.flag_threshold <= filter.reject_threshold))
                .then(|| "must be greater than 0 and at most filter.reject_threshold".to_owned()),
        );
        check(
            "filter.batch",
            filter.batch.to_string(),
            (filter.batch == 0 || filter.batch > 10_000).then(|| "must be 1 to 10000".to_owned()),
        );
        for (key, d) in [
            ("filter.ack_wait", filter.ack_wait),
            ("filter.publish_timeout", filter.publish_timeout),
            ("filter.retry_delay", filter.retry_delay),
        ] {
            check(
                key,
                humantime::format_duration(d).to_string(),
                (d < Duration::from_millis(1)).then(|| "must be greater than zero".to_owned()),
            );
        }
        check(
            "filter.ack_wait",
            humantime::format_duration(filter.ack_wait).to_string(),
            (filter.ack_wait <= filter.publish_timeout * 2)
                .then(|| "must be more than twice filter.publish_timeout".to_owned()),
        );
        let d = &self.dispatcher;
        for (key, v) in [
            ("dispatcher.heartbeat_interval", d.heartbeat_interval),
            ("dispatcher.max_attempt_time", d.max_attempt_time),
            ("dispatcher.backoff_initial", d.backoff_initial),
            ("dispatcher.backoff_max", d.backoff_max),
            ("dispatcher.aging", d.aging),
            ("dispatcher.claim_max_wait", d.claim_max_wait),
            ("dispatcher.stall_after", d.stall_after),
            ("dispatcher.retention", d.retention),
        ] {
            check(
                key,
                humantime::format_duration(v).to_string(),
                (v < Duration::from_millis(10)).then(|| "must be at least 10ms".to_owned()),
            );
        }
        check(
            "dispatcher.lease_factor",
            d.lease_factor.to_string(),
            (!(d.lease_factor > 1.0 && d.lease_factor < 2.0))
                .then(|| "must be more than 1 and less than 2".to_owned()),
        );
        check(
            "dispatcher.backoff_factor",
            d.backoff_factor.to_string(),
            (!(1.0..=10.0).contains(&d.backoff_factor)).then(|| "must be 1 to 10".to_owned()),
        );
        check(
            "dispatcher.max_attempts",
            d.max_attempts.to_string(),
            (d.max_attempts == 0 || d.max_attempts > 1000).then(|| "must be 1 to 1000".to_owned()),
        );
        check(
            "dispatcher.window",
            d.window.to_string(),
            (d.window == 0 || d.window > 100_000).then(|| "must be 1 to 100000".to_owned()),
        );
        check(
            "dispatcher.suppress_after_dead",
            d.suppress_after_dead.to_string(),
            (d.suppress_after_dead == 0).then(|| "must be at least 1".to_owned()),
        );
        check(
            "dispatcher.backoff_max",
            humantime::format_duration(d.backoff_max).to_string(),
            (d.backoff_max < d.backoff_initial)
                .then(|| "must be at least dispatcher.backoff_initial".to_owned()),
        );
        let r = &self.results;
        for (key, v) in [
            ("results.dispatcher_timeout", r.dispatcher_timeout),
            ("results.publish_timeout", r.publish_timeout),
            ("results.webhook_timeout", r.webhook_timeout),
            ("results.webhook_backoff_initial", r.webhook_backoff_initial),
            ("results.webhook_backoff_max", r.webhook_backoff_max),
        ] {
            check(
                key,
                humantime::format_duration(v).to_string(),
                (v < Duration::from_millis(10)).then(|| "must be at least 10ms".to_owned()),
            );
        }
        check(
            "results.webhook_max_attempts",
            r.webhook_max_attempts.to_string(),
            (r.webhook_max_attempts == 0 || r.webhook_max_attempts > 100)
                .then(|| "must be 1 to 100".to_owned()),
        );
        check(
            "results.max_text_bytes",
            r.max_text_bytes.to_string(),
            (r.max_text_bytes < 256 || r.max_text_bytes > 512 * 1024)
                .then(|| "must be 256 to 524288".to_owned()),
        );
        check(
            "results.max_watchers",
            r.max_watchers.to_string(),
            (r.max_watchers == 0).then(|| "must be at least 1".to_owned()),
        );
        check(
            "results.index_capacity",
            r.index_capacity.to_string(),
            (r.index_capacity == 0).then(|| "must be at least 1".to_owned()),
        );
        for service in ServiceName::ALL {
            let ep = self.services.get(service);
            let prefix = format!("services.{}", service.config_key());
            check(
                &format!("{prefix}.grpc_addr"),
                ep.grpc_addr.clone(),
                ep.grpc_bind().err(),
            );
            check(
                &format!("{prefix}.admin_addr"),
                ep.admin_addr.clone(),
                ep.admin_bind().err(),
            );
        }
        if let Some(cycle) = find_cycle(&self.services.graph()) {
            check(
                "services.*.depends_on",
                cycle
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" -> "),
                Some("the dependency graph has a cycle".into()),
            );
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(bad))
        }
    }

    /// The validated namespace.
    pub fn namespace(&self) -> Namespace {
        Namespace::new(self.namespace.clone()).expect("validated at load")
    }

    /// The effective config as TOML, secrets redacted.
    pub fn dump(&self) -> String {
        // Serialising through JSON first drops `None`s that TOML cannot hold.
        let json = serde_json::to_value(self).expect("config serialises");
        toml_from_json(&json, "")
    }
}

fn host_port_problem(rest: &str) -> Option<String> {
    let authority = rest.split('/').next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    match host_port.rsplit_once(':') {
        None if !host_port.is_empty() => None,
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => None,
        _ => Some("expected host:port".into()),
    }
}

/// Makes serde's messages say which key and which variable to look at.
fn explain_deserialize_error(msg: &str) -> String {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        if let Some((field, _)) = rest.split_once('`') {
            return format!(
                "{msg}; check the config file and {ENV_PREFIX}_* variables for {field:?} (nesting uses __, e.g. {ENV_PREFIX}_NATS__URL)"
            );
        }
    }
    msg.to_owned()
}

/// A small TOML writer for `--dump-config` (tables after plain keys).
fn toml_from_json(value: &serde_json::Value, path: &str) -> String {
    use serde_json::Value;
    let Value::Object(map) = value else {
        return String::new();
    };
    let mut out = String::new();
    let mut tables = Vec::new();
    for (k, v) in map {
        match v {
            Value::Null => {}
            Value::Object(_) => tables.push((k, v)),
            other => out.push_str(&format!("{} = {}\n", toml_key(k), toml_value(other))),
        }
    }
    for (k, v) in tables {
        let sub = if path.is_empty() {
            toml_key(k)
        } else {
            format!("{path}.{}", toml_key(k))
        };
        out.push_str(&format!("\n[{sub}]\n"));
        out.push_str(&toml_from_json(v, &sub));
    }
    out
}

fn toml_key(k: &str) -> String {
    if k.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_owned()
    } else {
        serde_json::to_string(k).expect("string")
    }
}

fn toml_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load_with_env(None, &env(pairs))
    }

    #[test]
    fn defaults_are_valid() {
        let cfg = load(&[]).unwrap();
        assert_eq!(cfg.namespace, "faultline");
        assert_eq!(cfg.nats.url.expose(), "nats://127.0.0.1:4222");
        assert_eq!(
            cfg.services.task_dispatcher.depends_on,
            vec![ServiceName::InjectionFilter]
        );
    }

    #[test]
    fn seed_variables_are_honoured_and_ours_win() {
        let cfg = load(&[
            ("NATS_URL", "nats://10.0.0.1:4222"),
            ("NATS_NAMESPACE", "seed"),
            ("REDIS_URL", "redis://127.0.0.1:6380"),
        ])
        .unwrap();
        assert_eq!(cfg.nats.url.expose(), "nats://10.0.0.1:4222");
        assert_eq!(cfg.namespace, "seed");
        assert_eq!(cfg.redis.url.expose(), "redis://127.0.0.1:6380");
        let cfg = load(&[
            ("NATS_URL", "nats://127.0.0.1:1"),
            ("FAULTLINE_NATS__URL", "nats://127.0.0.1:2"),
        ])
        .unwrap();
        assert_eq!(cfg.nats.url.expose(), "nats://127.0.0.1:2");
    }

    #[test]
    fn nested_env_and_lists() {
        let cfg = load(&[
            ("FAULTLINE_READINESS__TTL", "3s"),
            ("FAULTLINE_READINESS__RENEW_INTERVAL", "1s"),
            (
                "FAULTLINE_SERVICES__ERROR_INGEST__DEPENDS_ON",
                "injection-filter, health_checker",
            ),
            ("FAULTLINE_PROVISION__ON_START", "true"),
        ])
        .unwrap();
        assert_eq!(cfg.readiness.ttl, Duration::from_secs(3));
        assert!(cfg.provision.on_start);
        assert_eq!(
            cfg.services.error_ingest.depends_on,
            vec![ServiceName::InjectionFilter, ServiceName::HealthChecker]
        );
    }

    #[test]
    fn file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(
            &path,
            "namespace = \"from_file\"\n[nats]\nurl = \"nats://127.0.0.1:5000\"\n",
        )
        .unwrap();
        let cfg = Config::load_with_env(Some(&path), &env(&[])).unwrap();
        assert_eq!(cfg.namespace, "from_file");
        let cfg = Config::load_with_env(Some(&path), &env(&[("FAULTLINE_NAMESPACE", "from_env")]))
            .unwrap();
        assert_eq!(cfg.namespace, "from_env");
        assert_eq!(cfg.nats.url.expose(), "nats://127.0.0.1:5000");
        let missing = Config::load_with_env(Some(&dir.path().join("nope.toml")), &env(&[]));
        assert!(missing.unwrap_err().to_string().contains("nope.toml"));
    }

    #[test]
    fn configured_environments_replace_the_defaults() {
        let cfg = load(&[]).unwrap();
        let envs: Vec<_> = cfg.provision.environments.keys().cloned().collect();
        assert_eq!(envs, ["production", "staging"]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(
            &path,
            "[provision.environments.qa]\ndedup_window = \"1h\"\n",
        )
        .unwrap();
        let cfg = Config::load_with_env(Some(&path), &env(&[])).unwrap();
        let envs: Vec<_> = cfg.provision.environments.keys().cloned().collect();
        assert_eq!(envs, ["qa"]);
        assert_eq!(
            cfg.provision.environments["qa"].dedup_window,
            Duration::from_secs(3600)
        );
        assert_eq!(
            cfg.provision.environments["qa"].max_age,
            Duration::from_secs(7 * 24 * 3600)
        );
    }

    #[test]
    fn the_config_file_variable_is_not_a_key() {
        let cfg = load(&[("FAULTLINE_CONFIG_FILE", "/etc/faultline.toml")]).unwrap();
        assert_eq!(cfg.namespace, "faultline");
    }

    #[test]
    fn errors_name_key_and_value() {
        let err = load(&[("FAULTLINE_NAMESPACE", "Bad-NS")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("namespace = \"Bad-NS\""), "{err}");
        assert!(err.contains("FAULTLINE_NAMESPACE"), "{err}");

        let err = load(&[("NATS_URL", "http://127.0.0.1:4222")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nats.url") && err.contains("\"http\""),
            "{err}"
        );

        let err = load(&[("FAULTLINE_NATS__URLL", "x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `urll`"), "{err}");

        let err = load(&[("FAULTLINE_READINESS__TTL", "soon")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("readiness.ttl") || err.contains("soon"),
            "{err}"
        );

        let err = load(&[("FAULTLINE_READINESS__RENEW_INTERVAL", "10s")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("readiness.renew_interval"), "{err}");
    }

    #[test]
    fn cycles_are_refused() {
        let err = load(&[(
            "FAULTLINE_SERVICES__INJECTION_FILTER__DEPENDS_ON",
            "result-publisher",
        )])
        .unwrap_err()
        .to_string();
        assert!(err.contains("cycle"), "{err}");
        assert!(
            err.contains("injection-filter -> result-publisher")
                || err.contains("result-publisher -> task-dispatcher"),
            "{err}"
        );
        let err = load(&[(
            "FAULTLINE_SERVICES__ERROR_INGEST__DEPENDS_ON",
            "error-ingest",
        )])
        .unwrap_err()
        .to_string();
        assert!(err.contains("error-ingest -> error-ingest"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let cfg = load(&[
            ("FAULTLINE_NATS__URL", "nats://alice:hunter2@127.0.0.1:4222"),
            ("FAULTLINE_NATS__PASSWORD", "s3cret"),
            ("REDIS_URL", "redis://:pw123@127.0.0.1:6379/0"),
        ])
        .unwrap();
        let dump = cfg.dump();
        let debug = format!("{cfg:?}");
        for out in [&dump, &debug] {
            assert!(!out.contains("hunter2") && !out.contains("s3cret") && !out.contains("pw123"));
        }
        assert!(dump.contains("nats://alice:***@127.0.0.1:4222"), "{dump}");
        assert!(dump.contains("redis://:***@127.0.0.1:6379/0"), "{dump}");
        assert_eq!(cfg.nats.password.as_ref().unwrap().expose(), "s3cret");
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact_url("nats://tok@h:1"), "nats://***@h:1");
        assert_eq!(
            redact_url("nats://a:b@h:1,nats://c:d@h:2"),
            "nats://a:***@h:1,nats://c:***@h:2"
        );
    }

    #[test]
    fn listen_defaults() {
        let mut ep = ServiceEndpoint::new(1, 2, &[]);
        assert_eq!(ep.grpc_bind().unwrap().to_string(), "127.0.0.1:1");
        ep.grpc_addr = "error-ingest:50051".into();
        assert_eq!(ep.grpc_bind().unwrap().to_string(), "0.0.0.0:50051");
        ep.grpc_addr = "nope".into();
        assert!(ep.grpc_bind().is_err());
    }
}
