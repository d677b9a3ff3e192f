//! The status model: one entry per component and the whole.

use std::collections::BTreeMap;

use faultline_proto::faultline::health::v1 as pb;
use serde::Serialize;

/// A component's (or the whole system's) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Checked and fine.
    Healthy,
    /// Checked and not fine.
    Unhealthy,
    /// Not checked yet.
    Unknown,
}

impl State {
    fn to_pb(self) -> pb::ComponentState {
        match self {
            State::Healthy => pb::ComponentState::Healthy,
            State::Unhealthy => pb::ComponentState::Unhealthy,
            State::Unknown => pb::ComponentState::Unknown,
        }
    }
}

/// One component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentStatus {
    /// `nats`, `jetstream`, `streams`, `redis` or a service name.
    pub name: String,
    /// Its state.
    pub state: State,
    /// Why it is not healthy (empty when healthy).
    pub reason: String,
    /// When it was last healthy (unix ms; 0: never since start).
    pub last_healthy_unix_ms: i64,
    /// When it was checked (unix ms).
    pub checked_unix_ms: i64,
    /// Facts (versions, instances, ...).
    pub details: BTreeMap<String, String>,
}

/// The whole system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemStatus {
    /// Healthy only when every component is.
    pub state: State,
    /// Every component, in a fixed order.
    pub components: Vec<ComponentStatus>,
    /// When the last check finished (unix ms).
    pub checked_unix_ms: i64,
}

impl SystemStatus {
    /// Nothing checked yet.
    pub fn unknown(names: &[String]) -> Self {
        Self {
            state: State::Unknown,
            components: names
                .iter()
                .map(|n| ComponentStatus {
                    name: n.clone(),
                    state: State::Unknown,
                    reason: "not checked yet".into(),
                    last_healthy_unix_ms: 0,
                    checked_unix_ms: 0,
                    details: BTreeMap::new(),
                })
                .collect(),
            checked_unix_ms: 0,
        }
    }

    /// Whether `other` differs in any state or reason (what watchers are told about).
    pub fn differs_in_substance(&self, other: &SystemStatus) -> bool {
        self.state != other.state
            || self.components.len() != other.components.len()
            || self
                .components
                .iter()
                .zip(&other.components)
                .any(|(a, b)| a.name != b.name || a.state != b.state || a.reason != b.reason)
    }

    /// The protobuf form.
    pub fn to_pb(&self) -> pb::SystemStatus {
        pb::SystemStatus {
            state: self.state.to_pb() as i32,
            components: self
                .components
                .iter()
                .map(|c| pb::Component {
                    name: c.name.clone(),
                    state: c.state.to_pb() as i32,
                    reason: c.reason.clone(),
                    last_healthy_unix_ms: c.last_healthy_unix_ms,
                    checked_unix_ms: c.checked_unix_ms,
                    details: c.details.clone().into_iter().collect(),
                })
                .collect(),
            checked_unix_ms: self.checked_unix_ms,
        }
    }
}
