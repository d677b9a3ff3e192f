//! [`AgentConfig`]: who the agent is and how patient it is.

use std::time::Duration;

use crate::error::{Error, ErrorKind};

/// The longest agent id the dispatcher accepts.
pub const MAX_AGENT_ID_LEN: usize = 64;

/// Who the agent is, and the SDK's timeouts and retry bounds.
///
/// Build it with a struct literal and `..Default::default()`:
///
/// ```
/// use faultline_agent::AgentConfig;
///
/// let config = AgentConfig {
///     agent_id: "investigator-1".into(),
///     name: "Investigator".into(),
///     capabilities: vec!["investigation".into()],
///     max_tasks: 2,
///     ..Default::default()
/// };
/// assert!(config.heartbeat_override.is_none());
/// ```
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Stable id (`[A-Za-z0-9_-]`, 1 to 64 characters). Registering again with
    /// the same id keeps the agent's tasks.
    pub agent_id: String,
    /// Display name.
    pub name: String,
    /// What the agent can do; it only gets tasks whose required capabilities
    /// it has, all of them.
    pub capabilities: Vec<String>,
    /// Tasks held at once; 0 means 1.
    pub max_tasks: u32,
    /// How long opening the connection may take. Default 5 s.
    pub connect_timeout: Duration,
    /// How long any call may take, on top of a claim's own wait. Default 10 s.
    pub request_timeout: Duration,
    /// The result-publisher's gRPC address (`http://host:port`), for
    /// [`ClaimedTask::publish_status`](crate::ClaimedTask::publish_status)
    /// and [`ClaimedTask::publish_result`](crate::ClaimedTask::publish_result).
    /// Connected lazily. Default: none.
    pub results_endpoint: Option<String>,
    /// Heartbeat at this interval instead of the one the dispatcher asks for.
    /// For tests that want revocations noticed quickly; an interval longer than
    /// the server's lets the agent's presence expire.
    pub heartbeat_override: Option<Duration>,
    /// Retries after an `UNAVAILABLE` answer, for every call but `Claim`
    /// (claims are the caller's loop to retry). Default 3.
    pub max_retries: u32,
    /// The first retry's delay; each further retry doubles it. Default 100 ms.
    pub retry_base: Duration,
    /// The longest delay between retries. Default 2 s.
    pub retry_cap: Duration,
    /// How long [`Agent::shutdown`](crate::Agent::shutdown) may spend handing
    /// tasks back before it deregisters anyway. Default 10 s.
    pub shutdown_timeout: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            agent_id: String::new(),
            name: String::new(),
            capabilities: Vec::new(),
            max_tasks: 1,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            results_endpoint: None,
            heartbeat_override: None,
            max_retries: 3,
            retry_base: Duration::from_millis(100),
            retry_cap: Duration::from_secs(2),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

impl AgentConfig {
    /// Checks what can be checked without the dispatcher, and fills defaults.
    pub(crate) fn validated(mut self) -> Result<Self, Error> {
        validate_agent_id(&self.agent_id)?;
        if self.name.is_empty() {
            self.name.clone_from(&self.agent_id);
        }
        self.max_tasks = self.max_tasks.max(1);
        if self.heartbeat_override == Some(Duration::ZERO) {
            return Err(Error::local(
                ErrorKind::InvalidArgument,
                "heartbeat_override must be longer than zero",
            ));
        }
        Ok(self)
    }
}

/// The dispatcher's rule for agent ids, checked before connecting so a typo
/// fails at once with a clear message.
pub(crate) fn validate_agent_id(id: &str) -> Result<(), Error> {
    let ok_chars = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if id.is_empty() || id.len() > MAX_AGENT_ID_LEN || !ok_chars {
        return Err(Error::local(
            ErrorKind::InvalidArgument,
            format!("agent_id {id:?} must be 1 to {MAX_AGENT_ID_LEN} characters of [A-Za-z0-9_-]"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_ids() {
        for ok in ["a", "agent-1", "A_b-9", &"x".repeat(64)] {
            assert!(validate_agent_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "dot.ted", "ünï", "a/b", &"x".repeat(65)] {
            let err = validate_agent_id(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn validated_fills_defaults() {
        let c = AgentConfig {
            agent_id: "a1".into(),
            max_tasks: 0,
            ..Default::default()
        }
        .validated()
        .unwrap();
        assert_eq!(c.name, "a1");
        assert_eq!(c.max_tasks, 1);
        let err = AgentConfig {
            agent_id: "a1".into(),
            heartbeat_override: Some(Duration::ZERO),
            ..Default::default()
        }
        .validated()
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }
}
