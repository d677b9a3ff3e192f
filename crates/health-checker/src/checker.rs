//! The checks. Each returns a verdict; the loop turns verdicts into a
//! [`SystemStatus`], remembers when each component was last healthy, and
//! logs state changes once.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use async_nats::connection::State as NatsState;
use faultline_core::config::Config;
use faultline_core::health::{HealthReporter, Serving};
use faultline_core::names::{Names, ServiceName};
use faultline_core::nats::Nats;
use faultline_core::provision::{self, Mode, Outcome};
use faultline_core::readiness::{clock, unix_ms, Readiness};
use faultline_proto::grpc::health::v1::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};
use redis::aio::ConnectionManager;
use tonic::transport::{Channel, Endpoint};

use crate::model::{ComponentStatus, State, SystemStatus};

/// A check's verdict.
struct Verdict {
    ok: bool,
    reason: String,
    details: BTreeMap<String, String>,
}

impl Verdict {
    fn healthy(details: BTreeMap<String, String>) -> Self {
        Self {
            ok: true,
            reason: String::new(),
            details,
        }
    }
    fn unhealthy(reason: impl Into<String>) -> Self {
        Self {
            ok: false,
            reason: reason.into(),
            details: BTreeMap::new(),
        }
    }
}

/// Checks every component.
pub(crate) struct Checker {
    config: std::sync::Arc<Config>,
    names: Names,
    nats: Nats,
    redis: ConnectionManager,
    readiness: Readiness,
    channels: HashMap<ServiceName, Channel>,
    last_healthy: HashMap<String, SystemTime>,
    last_state: HashMap<String, (State, String)>,
    /// Per error stream: its oldest waiting sequence and since when.
    oldest_waiting: HashMap<String, (u64, SystemTime)>,
}

/// One error stream's backlog.
struct Backlog {
    stream: String,
    waiting: u64,
    oldest: u64,
}

/// The services the health-checker watches (all but itself).
pub(crate) fn watched_services() -> Vec<ServiceName> {
    ServiceName::ALL
        .into_iter()
        .filter(|s| *s != ServiceName::HealthChecker)
        .collect()
}

/// Component names, in report order.
pub(crate) fn component_names() -> Vec<String> {
    let mut names: Vec<String> = ["nats", "jetstream", "streams", "pipeline", "redis"]
        .into_iter()
        .map(String::from)
        .collect();
    names.extend(watched_services().into_iter().map(|s| s.to_string()));
    names
}

impl Checker {
    pub(crate) fn new(
        config: std::sync::Arc<Config>,
        names: Names,
        nats: Nats,
        redis: ConnectionManager,
        readiness: Readiness,
    ) -> Result<Self, String> {
        let timeout = config.health.check_timeout;
        let mut channels = HashMap::new();
        for service in watched_services() {
            let addr = &config.services.get(service).grpc_addr;
            let endpoint = Endpoint::from_shared(format!("http://{addr}"))
                .map_err(|e| format!("services.{}.grpc_addr {addr:?}: {e}", service.config_key()))?
                .connect_timeout(timeout)
                .timeout(timeout);
            channels.insert(service, endpoint.connect_lazy());
        }
        Ok(Self {
            config,
            names,
            nats,
            redis,
            readiness,
            channels,
            last_healthy: HashMap::new(),
            last_state: HashMap::new(),
            oldest_waiting: HashMap::new(),
        })
    }

    /// Runs every check once (concurrently) and returns the new status.
    pub(crate) async fn check_all(&mut self) -> SystemStatus {
        let timeout = self.config.health.check_timeout;
        let (nats, jetstream, streams, redis, backlogs) = tokio::join!(
            bounded(timeout, self.check_nats()),
            bounded(timeout, self.check_jetstream()),
            bounded(timeout * 3, self.check_streams()),
            bounded(timeout, self.check_redis()),
            tokio::time::timeout(timeout * 3, self.backlogs()),
        );
        let pipeline = match backlogs {
            Ok(Ok(b)) => self.judge_pipeline(b, SystemTime::now()),
            Ok(Err(reason)) => Verdict::unhealthy(reason),
            Err(_) => Verdict::unhealthy(format!("no answer within {:?}", timeout * 3)),
        };
        let this = &*self;
        let services = futures_util::future::join_all(
            watched_services()
                .into_iter()
                .map(|s| async move { (s, bounded(timeout * 2, this.check_service(s)).await) }),
        )
        .await;
        self.sweep().await;

        let mut verdicts: Vec<(String, Verdict)> = vec![
            ("nats".into(), nats),
            ("jetstream".into(), jetstream),
            ("streams".into(), streams),
            ("pipeline".into(), pipeline),
            ("redis".into(), redis),
        ];
        verdicts.extend(services.into_iter().map(|(s, v)| (s.to_string(), v)));

        let now = SystemTime::now();
        let mut components = Vec::with_capacity(verdicts.len());
        for (name, v) in verdicts {
            let state = if v.ok {
                State::Healthy
            } else {
                State::Unhealthy
            };
            if v.ok {
                self.last_healthy.insert(name.clone(), now);
            }
            let last_healthy = self.last_healthy.get(&name).copied();
            let reason = match (v.ok, last_healthy) {
                (true, _) => String::new(),
                (false, Some(t)) => format!("{} (last healthy {})", v.reason, clock(t)),
                (false, None) => v.reason,
            };
            let previous = self
                .last_state
                .insert(name.clone(), (state, reason.clone()));
            match (&previous, state) {
                (Some((State::Healthy, _)) | None, State::Healthy) => {}
                (_, State::Healthy) => tracing::info!(component = %name, "component healthy again"),
                (Some((State::Unhealthy, _)), State::Unhealthy) => {}
                (_, _) => tracing::warn!(component = %name, %reason, "component unhealthy"),
            }
            components.push(ComponentStatus {
                name,
                state,
                reason,
                last_healthy_unix_ms: last_healthy.map(unix_ms).unwrap_or(0),
                checked_unix_ms: unix_ms(now),
                details: v.details,
            });
        }
        let state = if components.iter().all(|c| c.state == State::Healthy) {
            State::Healthy
        } else {
            State::Unhealthy
        };
        SystemStatus {
            state,
            components,
            checked_unix_ms: unix_ms(now),
        }
    }

    async fn check_nats(&self) -> Verdict {
        let client = &self.nats.client;
        if client.connection_state() != NatsState::Connected {
            return Verdict::unhealthy(format!("not connected to {}", self.config.nats.url));
        }
        let started = std::time::Instant::now();
        if let Err(err) = client.flush().await {
            return Verdict::unhealthy(format!("round trip failed: {err}"));
        }
        let info = client.server_info();
        Verdict::healthy(BTreeMap::from([
            ("url".into(), self.config.nats.url.redacted()),
            ("server".into(), info.server_name),
            ("version".into(), info.version),
            (
                "rtt_ms".into(),
                format!("{:.2}", started.elapsed().as_secs_f64() * 1e3),
            ),
        ]))
    }

    async fn check_jetstream(&self) -> Verdict {
        match self.nats.jetstream.query_account().await {
            Ok(account) => Verdict::healthy(BTreeMap::from([
                ("streams".into(), account.streams.to_string()),
                ("consumers".into(), account.consumers.to_string()),
                ("storage_bytes".into(), account.storage.to_string()),
            ])),
            Err(err) => Verdict::unhealthy(format!("JetStream not available: {err}")),
        }
    }

    async fn check_streams(&self) -> Verdict {
        let specs = match provision::declared_streams(&self.names, &self.config.provision) {
            Ok(s) => s,
            Err(err) => return Verdict::unhealthy(err.to_string()),
        };
        match provision::provision(&self.nats.jetstream, &specs, Mode::Check).await {
            Ok(report) if report.in_sync() => Verdict::healthy(BTreeMap::from([(
                "declared".into(),
                report.streams.len().to_string(),
            )])),
            Ok(report) => {
                let problems: Vec<String> = report
                    .streams
                    .iter()
                    .filter_map(|s| match &s.outcome {
                        Outcome::Missing => Some(format!("{} missing", s.stream)),
                        Outcome::Drifted { drift } => Some(format!(
                            "{} drifted ({})",
                            s.stream,
                            drift.iter().map(|d| d.field).collect::<Vec<_>>().join(", ")
                        )),
                        _ => None,
                    })
                    .collect();
                Verdict::unhealthy(format!(
                    "{}; run `faultline init` to provision",
                    problems.join(", ")
                ))
            }
            Err(err) => Verdict::unhealthy(err.to_string()),
        }
    }

    /// The backlog of every error stream. They are WorkQueue streams: a
    /// message is deleted when the injection-filter acks it, so what is in
    /// the stream is what waits.
    async fn backlogs(&self) -> Result<Vec<Backlog>, String> {
        let streams = self
            .names
            .error_streams(
                self.config
                    .provision
                    .environments
                    .keys()
                    .map(String::as_str),
            )
            .map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(streams.len());
        for name in streams {
            let mut stream = match self.nats.jetstream.get_stream(&name).await {
                Ok(s) => s,
                // A missing stream is the streams component's finding.
                Err(_) => continue,
            };
            let info = stream.info().await.map_err(|e| format!("{name}: {e}"))?;
            out.push(Backlog {
                stream: name,
                waiting: info.state.messages,
                oldest: info.state.first_sequence,
            });
        }
        Ok(out)
    }

    /// Stalled: an error stream whose oldest waiting event has been the same
    /// for `health.stall_after`.
    fn judge_pipeline(&mut self, backlogs: Vec<Backlog>, now: SystemTime) -> Verdict {
        let stall_after = self.config.health.stall_after;
        let mut details = BTreeMap::new();
        let mut stalled = Vec::new();
        for b in backlogs {
            details.insert(format!("{}.waiting", b.stream), b.waiting.to_string());
            if b.waiting == 0 {
                self.oldest_waiting.remove(&b.stream);
                continue;
            }
            let since = match self.oldest_waiting.get(&b.stream) {
                Some(&(seq, since)) if seq == b.oldest => since,
                _ => {
                    self.oldest_waiting
                        .insert(b.stream.clone(), (b.oldest, now));
                    now
                }
            };
            let stuck = now.duration_since(since).unwrap_or_default();
            if stuck >= stall_after {
                stalled.push(format!(
                    "{}: {} events waiting, the oldest for {}s (is the injection-filter running?)",
                    b.stream,
                    b.waiting,
                    stuck.as_secs()
                ));
            }
        }
        if stalled.is_empty() {
            Verdict::healthy(details)
        } else {
            Verdict {
                ok: false,
                reason: format!("stalled: {}", stalled.join("; ")),
                details,
            }
        }
    }

    async fn check_redis(&self) -> Verdict {
        let mut conn = self.redis.clone();
        let started = std::time::Instant::now();
        match redis::cmd("PING").query_async::<String>(&mut conn).await {
            Ok(_) => Verdict::healthy(BTreeMap::from([
                ("url".into(), self.config.redis.url.redacted()),
                (
                    "rtt_ms".into(),
                    format!("{:.2}", started.elapsed().as_secs_f64() * 1e3),
                ),
            ])),
            Err(err) => Verdict::unhealthy(format!("PING failed: {err}")),
        }
    }

    async fn check_service(&self, service: ServiceName) -> Verdict {
        let addr = &self.config.services.get(service).grpc_addr;
        let channel = self.channels[&service].clone();
        let grpc = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await;
        let grpc_problem = match grpc {
            Ok(resp) => {
                let status = ServingStatus::try_from(resp.into_inner().status)
                    .unwrap_or(ServingStatus::Unknown);
                (status != ServingStatus::Serving)
                    .then(|| format!("grpc.health.v1 at {addr} says {}", status.as_str_name()))
            }
            Err(status) => Some(format!(
                "grpc.health.v1 at {addr} failed: {}",
                if status.message().is_empty() {
                    format!("{:?}", status.code())
                } else {
                    status.message().to_owned()
                }
            )),
        };
        let signals = self.readiness.live(service).await;
        let (signal_problem, instances) = match &signals {
            Ok(s) if s.is_empty() => (Some("no live readiness signal".to_owned()), 0),
            Ok(s) => (None, s.len()),
            Err(err) => (Some(format!("cannot read readiness signals: {err}")), 0),
        };
        let mut details = BTreeMap::from([
            ("grpc_addr".into(), addr.clone()),
            ("instances".into(), instances.to_string()),
        ]);
        if let Ok(s) = &signals {
            if let Some(first) = s.first() {
                details.insert("version".into(), first.version.clone());
            }
        }
        match (grpc_problem, signal_problem) {
            (None, None) => Verdict::healthy(details),
            (a, b) => Verdict {
                ok: false,
                reason: [a, b].into_iter().flatten().collect::<Vec<_>>().join("; "),
                details,
            },
        }
    }

    async fn sweep(&self) {
        for service in ServiceName::ALL {
            match self.readiness.sweep(service).await {
                Ok(expired) => {
                    for e in expired {
                        tracing::warn!(
                            %service,
                            instance = %e.instance,
                            last_renewed = %clock(e.last_renewed),
                            "readiness signal expired without being withdrawn: the instance died, hung or lost Redis"
                        );
                    }
                }
                Err(err) => {
                    tracing::debug!(%service, error = %err, "readiness sweep failed");
                    return;
                }
            }
        }
    }
}

async fn bounded(timeout: Duration, check: impl std::future::Future<Output = Verdict>) -> Verdict {
    tokio::time::timeout(timeout, check)
        .await
        .unwrap_or_else(|_| Verdict::unhealthy(format!("check timed out after {timeout:?}")))
}

/// Publishes a status as grpc.health.v1 names.
pub(crate) fn publish_health(health: &HealthReporter, status: &SystemStatus) {
    let serving = |s: State| {
        if s == State::Healthy {
            Serving::Serving
        } else {
            Serving::NotServing
        }
    };
    health.set("", serving(status.state));
    for c in &status.components {
        health.set(&c.name, serving(c.state));
    }
}
