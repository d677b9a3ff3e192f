//! Declarative provisioning of faultline's streams (ARCHITECTURE §2).
//!
//! [`declared_streams`] is the table; [`provision`] makes the server match it
//! (create or update) or, in check mode, only reports how it differs. It is
//! the same code for services (`provision.on_start`), `faultline init` and
//! tests, and is safe when several processes run it at once: creating an
//! identical stream is idempotent on the server, and a creation race is
//! resolved by reading the stream again.
//!
//! After every create or update the configuration the server returns is
//! compared with the declared one, because older servers silently drop fields
//! they do not know.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use async_nats::jetstream::{
    self,
    context::{CreateStreamErrorKind, GetStreamErrorKind},
    stream::{Config as StreamConfig, DiscardPolicy, RetentionPolicy, StorageType},
};
use serde::Serialize;

use crate::config::{ProvisionConfig, Storage};
use crate::names::{stream, NameError, Names};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Retention of a declared stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// A message is deleted on its first ack (queues).
    WorkQueue,
    /// Messages are kept until age or size limits (logs, audit).
    Limits,
}

/// One declared stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamSpec {
    /// Full stream name (`{NS}_TASKS`).
    pub name: String,
    /// Subjects it captures.
    pub subjects: Vec<String>,
    /// Retention policy.
    pub retention: Retention,
    /// `Nats-Msg-Id` duplicate window (zero: server default).
    #[serde(with = "humantime_serde")]
    pub duplicate_window: Duration,
    /// Maximum message age.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// Replicas.
    pub replicas: usize,
    /// File or memory.
    pub storage: Storage,
}

impl StreamSpec {
    fn new(
        name: String,
        subjects: Vec<String>,
        retention: Retention,
        duplicate_window: Duration,
        max_age: Duration,
        cfg: &ProvisionConfig,
    ) -> Self {
        Self {
            name,
            subjects,
            retention,
            duplicate_window,
            max_age,
            replicas: cfg.replicas,
            storage: cfg.storage,
        }
    }

    /// The JetStream configuration that realises this spec.
    pub fn to_config(&self) -> StreamConfig {
        StreamConfig {
            name: self.name.clone(),
            subjects: self.subjects.clone(),
            retention: match self.retention {
                Retention::WorkQueue => RetentionPolicy::WorkQueue,
                Retention::Limits => RetentionPolicy::Limits,
            },
            duplicate_window: self.duplicate_window,
            max_age: self.max_age,
            num_replicas: self.replicas,
            storage: match self.storage {
                Storage::File => StorageType::File,
                Storage::Memory => StorageType::Memory,
            },
            // Refuse new messages when full rather than silently dropping old
            // ones: a publisher learns it, an acked message is never lost.
            discard: DiscardPolicy::New,
            description: Some("managed by faultline; change it in faultline's config".into()),
            ..Default::default()
        }
    }
}

/// The stream table for `names`' namespace.
pub fn declared_streams(
    names: &Names,
    cfg: &ProvisionConfig,
) -> Result<Vec<StreamSpec>, NameError> {
    let mut specs = vec![StreamSpec::new(
        names.stream(stream::ERROR_REPORTS),
        vec![names.errors_subject()],
        Retention::WorkQueue,
        2 * MINUTE,
        7 * DAY,
        cfg,
    )];
    for (env, s) in &cfg.environments {
        specs.push(StreamSpec::new(
            names.env_error_stream(env)?,
            vec![names.env_errors_subject(env)?],
            Retention::WorkQueue,
            s.dedup_window,
            s.max_age,
            cfg,
        ));
    }
    let tasks = names.stream(stream::TASKS);
    specs.push(StreamSpec::new(
        tasks.clone(),
        vec![names.tasks_wildcard()],
        Retention::WorkQueue,
        2 * MINUTE,
        7 * DAY,
        cfg,
    ));
    for (name, subject) in [
        (stream::INVESTIGATIONS, names.investigations_wildcard()),
        (stream::RESULTS, names.results_wildcard()),
        (stream::SECURITY, names.security_wildcard()),
        (stream::DEAD_LETTERS, names.dead_wildcard()),
        (stream::COORDINATION, names.coordination()),
        (stream::WEBHOOKS, names.webhooks_wildcard()),
    ] {
        specs.push(StreamSpec::new(
            names.stream(name),
            vec![subject],
            Retention::Limits,
            2 * MINUTE,
            30 * DAY,
            cfg,
        ));
    }
    // Max-deliveries and terminated advisories of the queues, captured
    // durably: the server publishes them once, to whoever listens.
    let mut advisory_subjects = Vec::new();
    for spec in specs.iter().filter(|s| s.retention == Retention::WorkQueue) {
        advisory_subjects.extend(names.advisory_subjects(&spec.name));
    }
    specs.push(StreamSpec::new(
        names.stream(stream::ADVISORIES),
        advisory_subjects,
        Retention::Limits,
        Duration::ZERO,
        7 * DAY,
        cfg,
    ));
    Ok(specs)
}

/// A field whose value on the server differs from the declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// Field name.
    pub field: &'static str,
    /// Declared value.
    pub declared: String,
    /// Value on the server.
    pub actual: String,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: declared {}, server has {}",
            self.field, self.declared, self.actual
        )
    }
}

/// What happened to one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Outcome {
    /// It did not exist and was created.
    Created,
    /// It matched the declaration.
    Unchanged,
    /// It differed and was updated.
    Updated {
        /// What differed.
        drift: Vec<Drift>,
    },
    /// Check mode: it differs (nothing was changed).
    Drifted {
        /// What differs.
        drift: Vec<Drift>,
    },
    /// Check mode: it does not exist.
    Missing,
}

/// One line of a provisioning report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamReport {
    /// Stream name.
    pub stream: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The result of provisioning every declared stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// One entry per declared stream, in declaration order.
    pub streams: Vec<StreamReport>,
}

impl Report {
    /// Whether every stream exists and matches its declaration.
    pub fn in_sync(&self) -> bool {
        self.streams.iter().all(|s| {
            matches!(
                s.outcome,
                Outcome::Created | Outcome::Unchanged | Outcome::Updated { .. }
            )
        })
    }

    /// Whether anything was created or updated.
    pub fn changed(&self) -> bool {
        self.streams
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Created | Outcome::Updated { .. }))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.streams {
            match &s.outcome {
                Outcome::Created => writeln!(f, "{:<32} created", s.stream)?,
                Outcome::Unchanged => writeln!(f, "{:<32} unchanged", s.stream)?,
                Outcome::Missing => writeln!(f, "{:<32} MISSING", s.stream)?,
                Outcome::Updated { drift } | Outcome::Drifted { drift } => {
                    let verb = if matches!(s.outcome, Outcome::Updated { .. }) {
                        "updated (drift repaired)"
                    } else {
                        "DRIFTED"
                    };
                    writeln!(f, "{:<32} {verb}", s.stream)?;
                    for d in drift {
                        writeln!(f, "    {d}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// A JetStream API call failed.
    #[error("stream {stream}: {action} failed: {error}")]
    Api {
        /// Stream name.
        stream: String,
        /// get, create or update.
        action: &'static str,
        /// The server's or client's error.
        error: String,
    },
    /// The server accepted the config but does not hold what was declared
    /// (an older server dropping fields it does not know, or a field that
    /// cannot be changed in place).
    #[error("stream {stream}: the server does not hold the declared config ({}); is nats-server older than faultline expects, or does the change need the stream to be recreated?", .drift.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    NotApplied {
        /// Stream name.
        stream: String,
        /// What still differs.
        drift: Vec<Drift>,
    },
    /// A name in the config is invalid.
    #[error(transparent)]
    Name(#[from] NameError),
}

/// Apply changes, or only report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Create missing streams and update drifted ones.
    Apply,
    /// Change nothing; report missing and drifted streams.
    Check,
}

/// Compares what the server holds with what is declared.
pub fn drift(declared: &StreamConfig, actual: &StreamConfig) -> Vec<Drift> {
    let mut out = Vec::new();
    let mut field = |name: &'static str, d: String, a: String| {
        if d != a {
            out.push(Drift {
                field: name,
                declared: d,
                actual: a,
            });
        }
    };
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    field(
        "subjects",
        format!("{:?}", set(&declared.subjects)),
        format!("{:?}", set(&actual.subjects)),
    );
    field(
        "retention",
        format!("{:?}", declared.retention),
        format!("{:?}", actual.retention),
    );
    field(
        "storage",
        format!("{:?}", declared.storage),
        format!("{:?}", actual.storage),
    );
    field(
        "num_replicas",
        declared.num_replicas.to_string(),
        actual.num_replicas.to_string(),
    );
    field(
        "max_age",
        humantime::format_duration(declared.max_age).to_string(),
        humantime::format_duration(actual.max_age).to_string(),
    );
    // Zero means "server default" (2 min); only a declared window is compared.
    if !declared.duplicate_window.is_zero() {
        field(
            "duplicate_window",
            humantime::format_duration(declared.duplicate_window).to_string(),
            humantime::format_duration(actual.duplicate_window).to_string(),
        );
    }
    field(
        "discard",
        format!("{:?}", declared.discard),
        format!("{:?}", actual.discard),
    );
    out
}

/// Provisions (or checks) every stream in `specs`.
pub async fn provision(
    js: &jetstream::Context,
    specs: &[StreamSpec],
    mode: Mode,
) -> Result<Report, ProvisionError> {
    let mut report = Report::default();
    for spec in specs {
        let outcome = provision_one(js, spec, mode).await?;
        match &outcome {
            Outcome::Created => tracing::info!(stream = %spec.name, "stream created"),
            Outcome::Updated { drift } => tracing::warn!(
                stream = %spec.name,
                drift = %drift.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                "stream had drifted from its declaration; updated"
            ),
            Outcome::Drifted { drift } => tracing::warn!(
                stream = %spec.name,
                drift = %drift.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                "stream differs from its declaration"
            ),
            Outcome::Missing => tracing::warn!(stream = %spec.name, "stream is missing"),
            Outcome::Unchanged => tracing::debug!(stream = %spec.name, "stream as declared"),
        }
        report.streams.push(StreamReport {
            stream: spec.name.clone(),
            outcome,
        });
    }
    Ok(report)
}

async fn provision_one(
    js: &jetstream::Context,
    spec: &StreamSpec,
    mode: Mode,
) -> Result<Outcome, ProvisionError> {
    let declared = spec.to_config();
    let api = |action: &'static str, error: String| ProvisionError::Api {
        stream: spec.name.clone(),
        action,
        error,
    };
    // Bounded: a creation race resolves on the second pass, and so does a create that timed
    // out (a JetStream cluster still placing its first replicated streams): the next pass
    // reads the stream again, in case the create was applied after all.
    let mut timed_out = None;
    for _ in 0..3 {
        match js.get_stream(&spec.name).await {
            Ok(stream) => {
                let actual = &stream.cached_info().config;
                let found = drift(&declared, actual);
                if found.is_empty() {
                    return Ok(Outcome::Unchanged);
                }
                if mode == Mode::Check {
                    return Ok(Outcome::Drifted { drift: found });
                }
                let info = js
                    .update_stream(&declared)
                    .await
                    .map_err(|e| api("update", e.to_string()))?;
                verify(spec, &declared, &info.config)?;
                return Ok(Outcome::Updated { drift: found });
            }
            Err(err) if is_not_found(&err) => {
                if mode == Mode::Check {
                    return Ok(Outcome::Missing);
                }
                match js.create_stream(declared.clone()).await {
                    Ok(stream) => {
                        verify(spec, &declared, &stream.cached_info().config)?;
                        return Ok(Outcome::Created);
                    }
                    // Another process created it with a different config in
                    // the meantime: read it again and compare.
                    Err(err) if is_name_in_use(&err) => continue,
                    Err(err) if err.kind() == CreateStreamErrorKind::TimedOut => {
                        tracing::warn!(stream = %spec.name, error = %err, "stream create timed out; reading it again");
                        timed_out = Some(err.to_string());
                        continue;
                    }
                    Err(err) => return Err(api("create", err.to_string())),
                }
            }
            Err(err) => return Err(api("get", err.to_string())),
        }
    }
    Err(api(
        "create",
        timed_out.unwrap_or_else(|| {
            "the stream kept changing while being provisioned (another process with a different config?)".into()
        }),
    ))
}

fn verify(
    spec: &StreamSpec,
    declared: &StreamConfig,
    returned: &StreamConfig,
) -> Result<(), ProvisionError> {
    let left = drift(declared, returned);
    if left.is_empty() {
        Ok(())
    } else {
        Err(ProvisionError::NotApplied {
            stream: spec.name.clone(),
            drift: left,
        })
    }
}

fn is_not_found(err: &async_nats::error::Error<GetStreamErrorKind>) -> bool {
    matches!(err.kind(), GetStreamErrorKind::JetStream(e)
        if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND)
}

fn is_name_in_use(err: &async_nats::error::Error<CreateStreamErrorKind>) -> bool {
    matches!(err.kind(), CreateStreamErrorKind::JetStream(e)
        if e.error_code() == jetstream::ErrorCode::STREAM_NAME_EXIST)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Namespace;

    fn specs() -> Vec<StreamSpec> {
        declared_streams(
            &Names::new(Namespace::new("acme").unwrap()),
            &ProvisionConfig::default(),
        )
        .unwrap()
    }

    #[test]
    fn the_table() {
        let specs = specs();
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ACME_ERROR_REPORTS",
                "ACME_PRODUCTION_ERRORS",
                "ACME_STAGING_ERRORS",
                "ACME_TASKS",
                "ACME_INVESTIGATIONS",
                "ACME_RESULTS",
                "ACME_SECURITY",
                "ACME_DEAD_LETTERS",
                "ACME_COORDINATION",
                "ACME_WEBHOOKS",
                "ACME_ADVISORIES",
            ]
        );
        let staging = &specs[2];
        assert_eq!(staging.subjects, ["acme.errors.staging"]);
        assert_eq!(staging.retention, Retention::WorkQueue);
        assert_eq!(staging.duplicate_window, DAY);
        assert_eq!(specs[4].retention, Retention::Limits);
        assert_eq!(specs[4].max_age, 30 * DAY);
        let adv = &specs[10].subjects;
        assert!(adv.contains(&"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ACME_TASKS.>".to_owned()));
        assert!(adv.contains(
            &"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ACME_STAGING_ERRORS.>".to_owned()
        ));
        assert_eq!(adv.len(), 2 * 4);
    }

    #[test]
    fn drift_is_reported_per_field() {
        let spec = &specs()[3];
        let declared = spec.to_config();
        assert!(drift(&declared, &declared).is_empty());
        let mut actual = declared.clone();
        actual.max_age = Duration::from_secs(60);
        actual.subjects.push("acme.extra".into());
        let d = drift(&declared, &actual);
        let fields: Vec<_> = d.iter().map(|d| d.field).collect();
        assert_eq!(fields, ["subjects", "max_age"]);
        assert!(
            d[1].to_string().contains("declared 7days, server has 1m"),
            "{}",
            d[1]
        );
    }
}
