//! Every name faultline puts on the wire or in a store: namespaces, streams,
//! subjects, consumers, KV buckets and Redis keys.
//!
//! Nothing outside this module formats a subject or a key. A namespace is
//! validated once ([`Namespace::new`]); every other name is derived from it,
//! and every token that comes from outside (an environment, a task type, a
//! service instance) is checked with [`token`] before it becomes part of a
//! subject, so a stray `.`, `*`, `>` or space can never widen a subscription.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The namespace does not match `[a-z0-9_]+` (at most 32 characters).
    #[error("namespace {0:?} is invalid: use 1 to 32 characters of a-z, 0-9 and _")]
    Namespace(String),
    /// A subject token is empty or contains a character NATS treats specially.
    #[error("{what} {value:?} is invalid: use 1 to 64 characters of a-z, 0-9, _ and -")]
    Token {
        /// What the token names (environment, task type, ...).
        what: &'static str,
        /// The refused value.
        value: String,
    },
    /// An id is empty or not a subject token.
    #[error("{what} {value:?} is invalid: use 1 to 128 characters of A-Z, a-z, 0-9, _ and -")]
    Id {
        /// What the id names.
        what: &'static str,
        /// The refused value.
        value: String,
    },
}

/// A project namespace: lowercase `[a-z0-9_]+`, at most 32 characters.
///
/// Streams are `{NS}_{NAME}` in upper case; subjects are `{ns}.…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Namespace(String);

impl Namespace {
    /// Validates `ns`.
    pub fn new(ns: impl Into<String>) -> Result<Self, NameError> {
        let ns = ns.into();
        let ok = !ns.is_empty()
            && ns.len() <= 32
            && ns
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(ns))
        } else {
            Err(NameError::Namespace(ns))
        }
    }

    /// The namespace as written in subjects.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The namespace as written in stream names.
    pub fn upper(&self) -> String {
        self.0.to_ascii_uppercase()
    }
}

impl TryFrom<String> for Namespace {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Namespace> for String {
    fn from(ns: Namespace) -> Self {
        ns.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks one subject token (environment, task type, outcome, id):
/// 1 to 64 characters of `a-z`, `0-9`, `_` and `-`.
pub fn token<'a>(what: &'static str, value: &'a str) -> Result<&'a str, NameError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(value)
    } else {
        Err(NameError::Token {
            what,
            value: value.to_owned(),
        })
    }
}

/// Checks that an id (a task id: 1 to 128 of `A-Z a-z 0-9 _ -`) is one
/// subject token, so it can never widen a subject.
pub fn id_token<'a>(what: &'static str, value: &'a str) -> Result<&'a str, NameError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(value)
    } else {
        Err(NameError::Id {
            what,
            value: value.to_owned(),
        })
    }
}

/// The five services. Their names are used in config, readiness keys, health
/// service names and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceName {
    /// Takes error events in.
    ErrorIngest,
    /// Scans every event for prompt injection.
    InjectionFilter,
    /// Hands tasks to agents.
    TaskDispatcher,
    /// Takes agents' status updates and results.
    ResultPublisher,
    /// Aggregates the health of everything.
    HealthChecker,
}

impl ServiceName {
    /// All services, in the default start order.
    pub const ALL: [ServiceName; 5] = [
        ServiceName::HealthChecker,
        ServiceName::ErrorIngest,
        ServiceName::InjectionFilter,
        ServiceName::TaskDispatcher,
        ServiceName::ResultPublisher,
    ];

    /// The display name (`task-dispatcher`), used in logs, health and Redis keys.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::ErrorIngest => "error-ingest",
            ServiceName::InjectionFilter => "injection-filter",
            ServiceName::TaskDispatcher => "task-dispatcher",
            ServiceName::ResultPublisher => "result-publisher",
            ServiceName::HealthChecker => "health-checker",
        }
    }

    /// The config key (`task_dispatcher`), so that environment variables can
    /// address it: `FAULTLINE_SERVICES__TASK_DISPATCHER__GRPC_ADDR`.
    pub fn config_key(self) -> &'static str {
        match self {
            ServiceName::ErrorIngest => "error_ingest",
            ServiceName::InjectionFilter => "injection_filter",
            ServiceName::TaskDispatcher => "task_dispatcher",
            ServiceName::ResultPublisher => "result_publisher",
            ServiceName::HealthChecker => "health_checker",
        }
    }

    /// Parses either spelling (`task-dispatcher` or `task_dispatcher`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|n| n.as_str() == s || n.config_key() == s)
    }

    /// The binary that runs this service.
    pub fn binary(self) -> &'static str {
        match self {
            ServiceName::ErrorIngest => "faultline-error-ingest",
            ServiceName::InjectionFilter => "faultline-injection-filter",
            ServiceName::TaskDispatcher => "faultline-task-dispatcher",
            ServiceName::ResultPublisher => "faultline-result-publisher",
            ServiceName::HealthChecker => "faultline-health-checker",
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names derived from one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    ns: Namespace,
}

/// Stream names without the namespace prefix (see ARCHITECTURE §2).
pub mod stream {
    /// Errors published on `{ns}.errors` with no environment.
    pub const ERROR_REPORTS: &str = "ERROR_REPORTS";
    /// Tasks for agents, `{ns}.tasks.>`.
    pub const TASKS: &str = "TASKS";
    /// Investigation status updates, `{ns}.investigation.>`.
    pub const INVESTIGATIONS: &str = "INVESTIGATIONS";
    /// Results of tasks, `{ns}.results.>`.
    pub const RESULTS: &str = "RESULTS";
    /// Rejected events and releases, `{ns}.security.>`.
    pub const SECURITY: &str = "SECURITY";
    /// Dead letters, `{ns}.dead.>`.
    pub const DEAD_LETTERS: &str = "DEAD_LETTERS";
    /// Captured JetStream advisories (max deliveries, terminated).
    pub const ADVISORIES: &str = "ADVISORIES";
    /// Messages between agents, `{ns}.coordination`.
    pub const COORDINATION: &str = "COORDINATION";
    /// Webhook deliveries of results, one record per attempt.
    pub const WEBHOOKS: &str = "WEBHOOKS";
}

impl Names {
    /// Names for `ns`.
    pub fn new(ns: Namespace) -> Self {
        Self { ns }
    }

    /// The namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// `{NS}_{NAME}`.
    pub fn stream(&self, name: &str) -> String {
        format!("{}_{}", self.ns.upper(), name)
    }

    /// The stream that holds one environment's errors: `{NS}_{ENV}_ERRORS`.
    pub fn env_error_stream(&self, env: &str) -> Result<String, NameError> {
        let env = token("environment", env)?;
        Ok(format!(
            "{}_{}_ERRORS",
            self.ns.upper(),
            env.to_ascii_uppercase().replace('-', "_")
        ))
    }

    /// `{ns}.errors`: errors reported with no environment.
    pub fn errors_subject(&self) -> String {
        format!("{}.errors", self.ns)
    }

    /// `{ns}.errors.<env>`.
    pub fn env_errors_subject(&self, env: &str) -> Result<String, NameError> {
        Ok(format!("{}.errors.{}", self.ns, token("environment", env)?))
    }

    /// `{ns}.tasks.>`.
    pub fn tasks_wildcard(&self) -> String {
        format!("{}.tasks.>", self.ns)
    }

    /// `{ns}.tasks.<kind>`: where tasks of one type are published.
    pub fn task_subject(&self, kind: &str) -> Result<String, NameError> {
        Ok(format!("{}.tasks.{}", self.ns, token("task type", kind)?))
    }

    /// Every error stream: `{NS}_ERROR_REPORTS` and one per environment.
    pub fn error_streams<'a>(
        &self,
        environments: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<String>, NameError> {
        let mut streams = vec![self.stream(stream::ERROR_REPORTS)];
        for env in environments {
            streams.push(self.env_error_stream(env)?);
        }
        Ok(streams)
    }

    /// `{ns}.security.rejected`: events the injection filter held back.
    pub fn security_rejected(&self) -> String {
        format!("{}.security.rejected", self.ns)
    }

    /// `{ns}.security.flagged`: suspicious events delivered with a mark.
    pub fn security_flagged(&self) -> String {
        format!("{}.security.flagged", self.ns)
    }

    /// `{ns}.security.invalid`: messages on an error subject that are not
    /// events (quarantined, never handed to an agent).
    pub fn security_invalid(&self) -> String {
        format!("{}.security.invalid", self.ns)
    }

    /// `{ns}.security.released.<rejection>`: the record of a person's
    /// release of one rejected event (at most one per rejection).
    pub fn security_released(&self, rejection: u64) -> String {
        format!("{}.security.released.{rejection}", self.ns)
    }

    /// `{ns}.investigation.>`.
    pub fn investigations_wildcard(&self) -> String {
        format!("{}.investigation.>", self.ns)
    }

    /// `{ns}.results.>`.
    pub fn results_wildcard(&self) -> String {
        format!("{}.results.>", self.ns)
    }

    /// `{ns}.investigation.status.<task>`: an agent's status update.
    pub fn investigation_status(&self, task: &str) -> Result<String, NameError> {
        Ok(format!(
            "{}.investigation.status.{}",
            self.ns,
            id_token("task id", task)?
        ))
    }

    /// `{ns}.results.<outcome>.<task>`: a task's result.
    pub fn result_subject(&self, outcome: &str, task: &str) -> Result<String, NameError> {
        Ok(format!(
            "{}.results.{}.{}",
            self.ns,
            token("outcome", outcome)?,
            id_token("task id", task)?
        ))
    }

    /// `{ns}.webhooks.>`.
    pub fn webhooks_wildcard(&self) -> String {
        format!("{}.webhooks.>", self.ns)
    }

    /// `{ns}.webhooks.delivery.<webhook>.<task>`: one delivery attempt of a
    /// result to a webhook.
    pub fn webhook_delivery(&self, webhook: &str, task: &str) -> Result<String, NameError> {
        Ok(format!(
            "{}.webhooks.delivery.{}.{}",
            self.ns,
            token("webhook name", webhook)?,
            id_token("task id", task)?
        ))
    }

    /// `{ns}.security.>`.
    pub fn security_wildcard(&self) -> String {
        format!("{}.security.>", self.ns)
    }

    /// `{ns}.dead.>`.
    pub fn dead_wildcard(&self) -> String {
        format!("{}.dead.>", self.ns)
    }

    /// `{ns}.dead.task.<kind>`: a dead-lettered task with its reason.
    pub fn dead_task(&self, kind: &str) -> Result<String, NameError> {
        Ok(format!(
            "{}.dead.task.{}",
            self.ns,
            token("task type", kind)?
        ))
    }

    /// `{ns}.dead.task.>`: every dead letter.
    pub fn dead_tasks_wildcard(&self) -> String {
        format!("{}.dead.task.>", self.ns)
    }

    /// `{ns}.dead.replay.<seq>`: the record of one dead letter's replay
    /// (who, when, why); one per replay, numbered.
    pub fn dead_replay(&self, dead_letter: u64) -> String {
        format!("{}.dead.replay.{dead_letter}", self.ns)
    }

    /// `{ns}.dead.cleared.<fingerprint key>`: a person cleared a
    /// fingerprint that had stopped spawning tasks.
    pub fn dead_cleared(&self, fingerprint_key: &str) -> String {
        format!("{}.dead.cleared.{fingerprint_key}", self.ns)
    }

    /// `{ns}.coordination`: messages between agents.
    pub fn coordination(&self) -> String {
        format!("{}.coordination", self.ns)
    }

    /// The KV bucket holding task state, fingerprints' open tasks and jobs:
    /// `{NS}_DISPATCH`.
    pub fn dispatch_bucket(&self) -> String {
        format!("{}_DISPATCH", self.ns.upper())
    }

    /// Redis key of one agent's presence (expires unless it heartbeats).
    pub fn agent_key(&self, agent: &str) -> String {
        format!("faultline:{}:agent:{}", self.ns, agent)
    }

    /// Redis sorted set of agents by presence expiry (unix ms).
    pub fn agent_index_key(&self) -> String {
        format!("faultline:{}:agents", self.ns)
    }

    /// The advisory subjects captured for one stream: max-deliveries and
    /// terminated messages of every consumer on it.
    pub fn advisory_subjects(&self, stream: &str) -> [String; 2] {
        [
            format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.>"),
            format!("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{stream}.>"),
        ]
    }

    /// Redis hash of one fingerprint's counters (count, first and last
    /// seen, last event, the environments and releases seen).
    pub fn fingerprint_key(&self, fingerprint: &str) -> String {
        format!("faultline:{}:fp:{}", self.ns, fingerprint)
    }

    /// Redis sorted set of fingerprints by count.
    pub fn fingerprint_top_key(&self) -> String {
        format!("faultline:{}:fp-top", self.ns)
    }

    /// The `Nats-Msg-Id` of an error event: one id per environment,
    /// fingerprint and release, so the dedup window holds one id per
    /// distinct error, and a new release makes the same error new again.
    pub fn error_msg_id(
        &self,
        env: Option<&str>,
        fingerprint: &str,
        release: Option<&str>,
    ) -> String {
        format!(
            "{}-{}-{}-{}",
            self.ns,
            env.unwrap_or("none"),
            fingerprint,
            release.unwrap_or("none")
        )
    }

    /// Redis key holding one instance's readiness signal.
    pub fn readiness_key(&self, service: ServiceName, instance: &str) -> String {
        format!("faultline:{}:ready:{}:{}", self.ns, service, instance)
    }

    /// Redis sorted set indexing a service's instances by signal expiry
    /// (unix ms), so a sweeper can find expired signals without SCAN.
    pub fn readiness_index_key(&self, service: ServiceName) -> String {
        format!("faultline:{}:ready-index:{}", self.ns, service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::new(Namespace::new("acme_1").unwrap())
    }

    #[test]
    fn namespace_rules() {
        assert!(Namespace::new("faultline").is_ok());
        assert!(Namespace::new("a_1").is_ok());
        for bad in ["", "Acme", "a.b", "a-b", "a b", "a*", "a>", &"x".repeat(33)] {
            assert!(Namespace::new(bad).is_err(), "{bad:?} accepted");
        }
        let err = Namespace::new("Bad.NS").unwrap_err().to_string();
        assert!(err.contains("\"Bad.NS\""), "{err}");
    }

    #[test]
    fn tokens_cannot_widen_subjects() {
        for bad in ["", "a.b", "*", ">", "a b", "A", "é"] {
            assert!(token("environment", bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(token("environment", "pre-prod_2"), Ok("pre-prod_2"));
    }

    #[test]
    fn stream_and_subject_names() {
        let n = names();
        assert_eq!(n.stream(stream::TASKS), "ACME_1_TASKS");
        assert_eq!(
            n.env_error_stream("staging").unwrap(),
            "ACME_1_STAGING_ERRORS"
        );
        assert_eq!(
            n.env_error_stream("pre-prod").unwrap(),
            "ACME_1_PRE_PROD_ERRORS"
        );
        assert_eq!(n.errors_subject(), "acme_1.errors");
        assert_eq!(
            n.env_errors_subject("production").unwrap(),
            "acme_1.errors.production"
        );
        assert!(n.env_errors_subject("a.b").is_err());
        assert_eq!(n.tasks_wildcard(), "acme_1.tasks.>");
        assert_eq!(
            n.advisory_subjects("ACME_1_TASKS")[0],
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ACME_1_TASKS.>"
        );
    }

    #[test]
    fn service_names_round_trip() {
        for s in ServiceName::ALL {
            assert_eq!(ServiceName::parse(s.as_str()), Some(s));
            assert_eq!(ServiceName::parse(s.config_key()), Some(s));
        }
        assert_eq!(ServiceName::parse("nope"), None);
    }

    #[test]
    fn readiness_keys() {
        let n = names();
        assert_eq!(
            n.readiness_key(ServiceName::TaskDispatcher, "host-1"),
            "faultline:acme_1:ready:task-dispatcher:host-1"
        );
        assert_eq!(
            n.readiness_index_key(ServiceName::TaskDispatcher),
            "faultline:acme_1:ready-index:task-dispatcher"
        );
    }
}
