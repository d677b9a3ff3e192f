//! What the dispatcher stores: one record per task in the KV bucket (its
//! state, lease and history), one per fingerprint (its open task), and the
//! dead letters. Pure data and pure decisions; no I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use faultline_event::task::Task;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The life of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for the tasks in `blocked_by` to complete (no message held).
    Blocked,
    /// Published to the tasks stream; the dispatcher has not taken it yet.
    Queued,
    /// Held by the dispatcher, ready for an agent.
    Available,
    /// Leased to an agent.
    Claimed,
    /// Failed retryably; comes back after its delay.
    Retrying,
    /// Done.
    Completed,
    /// Dead-lettered (permanent failure, attempts exhausted, a parent died).
    Dead,
    /// Cancelled by an operator.
    Cancelled,
    /// An occurrence of a fingerprint that already had an open task.
    Attached,
    /// Refused by the injection filter.
    Rejected,
    /// Its fingerprint was dead-lettered too often; a person must clear it.
    Suppressed,
}

impl State {
    /// The name used in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Blocked => "blocked",
            State::Queued => "queued",
            State::Available => "available",
            State::Claimed => "claimed",
            State::Retrying => "retrying",
            State::Completed => "completed",
            State::Dead => "dead",
            State::Cancelled => "cancelled",
            State::Attached => "attached",
            State::Rejected => "rejected",
            State::Suppressed => "suppressed",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<Self> {
        ALL_STATES.into_iter().find(|st| st.as_str() == s)
    }

    /// Nothing more will happen to it (unless a person replays it).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Completed
                | State::Dead
                | State::Cancelled
                | State::Attached
                | State::Rejected
                | State::Suppressed
        )
    }

    /// A JetStream message of the task exists and must be settled.
    pub fn holds_message(self) -> bool {
        matches!(
            self,
            State::Queued | State::Available | State::Claimed | State::Retrying
        )
    }
}

/// Every state, in life order.
pub const ALL_STATES: [State; 11] = [
    State::Blocked,
    State::Queued,
    State::Available,
    State::Claimed,
    State::Retrying,
    State::Completed,
    State::Dead,
    State::Cancelled,
    State::Attached,
    State::Rejected,
    State::Suppressed,
];

/// One task's record in the KV bucket (key [`task_key`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The task as handed to agents.
    pub task: Task,
    /// Where it is in its life.
    pub state: State,
    /// Lease epoch: raised by every claim. Every agent call names it; a
    /// call with another epoch is stale and refused.
    #[serde(default)]
    pub epoch: u64,
    /// Deliveries of its current message (attempts), from JetStream.
    #[serde(default)]
    pub attempt: u32,
    /// Stream sequence of its current message in the tasks stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The current delivery's ack subject: any replica can ack, extend
    /// (`+WPI`), nak or terminate the message through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<String>,
    /// The replica that keeps an available task's message alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The agent holding the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Every agent that held it, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<String>,
    /// Unix ms: when it became available (for aging), claimed, last updated.
    #[serde(default)]
    pub available_since: i64,
    /// Unix ms of the claim.
    #[serde(default)]
    pub claimed_at: i64,
    /// Unix ms after which the attempt is revoked even while heartbeating.
    #[serde(default)]
    pub attempt_deadline: i64,
    /// Unix ms of the retry, for `retrying`.
    #[serde(default)]
    pub next_attempt_at: i64,
    /// The agent's last progress message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Unix ms of the last progress or completion.
    #[serde(default)]
    pub progressed_at: i64,
    /// The last failure, or why it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The result, for `completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// Occurrences of its fingerprint attached while it was open (itself included).
    #[serde(default = "one")]
    pub occurrences: u64,
    /// For `attached`: the open task it was attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
    /// The completed task of the same fingerprint this one recurs after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression_of: Option<String>,
    /// The dead letter's id (its DEAD_LETTERS sequence), for `dead`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<u64>,
    /// Times it was replayed from the dead letters.
    #[serde(default)]
    pub replays: u32,
    /// Unix ms of creation and of the last change.
    #[serde(default)]
    pub created: i64,
    /// Unix ms of the last change.
    #[serde(default)]
    pub updated: i64,
}

fn one() -> u64 {
    1
}

impl TaskRecord {
    /// A new record for `task` in `state`.
    pub fn new(task: Task, state: State, now: i64) -> Self {
        Self {
            task,
            state,
            epoch: 0,
            attempt: 0,
            seq: None,
            ack: None,
            owner: None,
            agent: None,
            holders: Vec::new(),
            available_since: now,
            claimed_at: 0,
            attempt_deadline: 0,
            next_attempt_at: 0,
            progress: None,
            progressed_at: 0,
            last_error: None,
            result: None,
            occurrences: 1,
            attached_to: None,
            regression_of: None,
            dead_letter: None,
            replays: 0,
            created: now,
            updated: now,
        }
    }

    /// The lease `(epoch, agent)` is the current one.
    pub fn leased_to(&self, agent: &str, epoch: u64) -> bool {
        self.state == State::Claimed && self.epoch == epoch && self.agent.as_deref() == Some(agent)
    }

    /// Why the lease `(agent, epoch)` is not (or no longer) valid.
    pub fn stale_reason(&self, agent: &str, epoch: u64) -> String {
        match self.state {
            State::Claimed if self.agent.as_deref() != Some(agent) || self.epoch != epoch => {
                format!(
                    "lease_lost: the task is held under epoch {} (yours is {epoch})",
                    self.epoch
                )
            }
            State::Claimed => "lease valid".into(),
            State::Cancelled => "cancelled".into(),
            State::Completed => "completed".into(),
            State::Dead => "dead".into(),
            _ => format!(
                "lease_lost: the task is {} (epoch {}; yours is {epoch})",
                self.state.as_str(),
                self.epoch
            ),
        }
    }

    /// The priority the claim order uses: the task's own, plus one level
    /// per `aging` it has waited, so lower priorities are never starved.
    pub fn effective_priority(&self, now: i64, aging: Duration) -> u32 {
        let waited = u64::try_from(now.saturating_sub(self.available_since)).unwrap_or(0);
        let step = u64::try_from(aging.as_millis()).unwrap_or(u64::MAX).max(1);
        let boost = u32::try_from(waited / step).unwrap_or(u32::MAX).min(9);
        u32::from(self.task.priority) + boost
    }

    /// `agent` may take it: it has every required capability, and the type
    /// is one the claim asked for.
    pub fn fits(&self, capabilities: &BTreeSet<String>, types: &[String]) -> bool {
        self.task
            .required_capabilities
            .iter()
            .all(|c| capabilities.contains(c))
            && (types.is_empty() || types.iter().any(|t| t == &self.task.kind))
    }
}

/// A fingerprint's record (key [`fingerprint_key`]): its open task, the last
/// one that ended, and how often its tasks were dead-lettered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FingerprintRecord {
    /// The fingerprint.
    pub fingerprint: String,
    /// The task that is open for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_task: Option<String>,
    /// The last task that completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<String>,
    /// Dead letters since the last clearing.
    #[serde(default)]
    pub dead: u32,
    /// No new tasks until a person clears it.
    #[serde(default)]
    pub suppressed: bool,
}

/// A dead letter, as stored on `{ns}.dead.task.<type>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterRecord {
    /// The task.
    pub task: Task,
    /// `permanent_failure`, `attempts_exhausted`, `dependency_failed`,
    /// `invalid_task`, `attempt_time_exceeded`.
    pub reason: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last error an agent reported, or what made it die.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Agents that held it, in order.
    #[serde(default)]
    pub holders: Vec<String>,
    /// Its fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// RFC 3339.
    pub dead_at: String,
    /// Its sequence in the tasks stream, when it had a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_seq: Option<u64>,
}

/// A registered agent, as stored in Redis (expires unless it heartbeats).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// Its id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it can do.
    pub capabilities: BTreeSet<String>,
    /// Tasks it holds at once.
    pub max_tasks: u32,
    /// Unix ms.
    pub registered_at: i64,
    /// Unix ms.
    pub heartbeat_at: i64,
}

/// KV key of a task.
pub fn task_key(id: &str) -> String {
    format!("t.{id}")
}

/// KV key of a fingerprint: a hash, so any fingerprint text is a valid key.
pub fn fingerprint_key(fingerprint: &str) -> String {
    format!("f.{}", fingerprint_token(fingerprint))
}

/// The subject-safe token of a fingerprint (32 hex).
pub fn fingerprint_token(fingerprint: &str) -> String {
    let digest = Sha256::digest(fingerprint.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Task ids: 1 to 128 of `[A-Za-z0-9_-]` (they become KV keys and message ids).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Unix ms of `t`.
pub fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix ms now.
pub fn now_ms() -> i64 {
    ms(SystemTime::now())
}

/// RFC 3339 (milliseconds) of unix ms; empty for 0.
pub fn rfc3339(ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

/// A fresh random id: `prefix-` and 16 hex.
pub fn random_id(prefix: &str) -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the OS random source works");
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{prefix}-{hex}")
}

/// Why a dependency graph is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A task names itself or a chain of tasks leads back to the first.
    #[error("blocked_by forms a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// A parent is neither in the submission nor an existing task.
    #[error("task {task} is blocked by unknown task {parent}")]
    Unknown {
        /// The task that names it.
        task: String,
        /// The unknown id.
        parent: String,
    },
}

/// Checks the `blocked_by` edges of the tasks `new` (id → parents): each
/// parent must be in `new` or satisfy `exists`, and no cycle may form.
/// Returns the ids in an order where parents come first.
pub fn check_graph(
    new: &BTreeMap<String, Vec<String>>,
    exists: impl Fn(&str) -> bool,
) -> Result<Vec<String>, GraphError> {
    for (task, parents) in new {
        for parent in parents {
            if !new.contains_key(parent) && !exists(parent) {
                return Err(GraphError::Unknown {
                    task: task.clone(),
                    parent: parent.clone(),
                });
            }
        }
    }
    // Depth-first with colours; the path gives the cycle when one closes.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour: HashMap<&str, Colour> =
        new.keys().map(|k| (k.as_str(), Colour::White)).collect();
    let mut order = Vec::with_capacity(new.len());
    for start in new.keys() {
        if colour[start.as_str()] != Colour::White {
            continue;
        }
        // (node, next parent index)
        let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        colour.insert(start.as_str(), Colour::Grey);
        while let Some((node, i)) = stack.last().copied() {
            let parents = &new[node];
            if i < parents.len() {
                stack.last_mut().expect("non-empty").1 += 1;
                let p = parents[i].as_str();
                match colour.get(p).copied() {
                    Some(Colour::White) => {
                        colour.insert(p, Colour::Grey);
                        stack.push((p, 0));
                    }
                    Some(Colour::Grey) => {
                        let from = stack.iter().position(|(n, _)| *n == p).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            stack[from..].iter().map(|(n, _)| (*n).to_owned()).collect();
                        cycle.push(p.to_owned());
                        return Err(GraphError::Cycle(cycle));
                    }
                    // Done, or an existing task outside `new`.
                    Some(Colour::Black) | None => {}
                }
            } else {
                colour.insert(node, Colour::Black);
                order.push(node.to_owned());
                stack.pop();
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_event::task::Origin;

    fn task(id: &str, priority: u8, caps: &[&str]) -> Task {
        Task {
            id: id.into(),
            kind: "investigation".into(),
            priority,
            description: "d".into(),
            context: Default::default(),
            required_capabilities: caps.iter().map(|s| (*s).to_owned()).collect(),
            blocked_by: vec![],
            job_id: None,
            fingerprint: None,
            origin: Origin::default(),
            attempts: 0,
            created_at: String::new(),
        }
    }

    #[test]
    fn states_round_trip_and_classify() {
        for s in ALL_STATES {
            assert_eq!(State::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert!(State::Completed.is_terminal());
        assert!(!State::Claimed.is_terminal());
        assert!(State::Retrying.holds_message());
        assert!(!State::Blocked.holds_message());
        assert_eq!(State::parse("nope"), None);
    }

    #[test]
    fn leases_are_fenced_by_epoch_and_agent() {
        let mut r = TaskRecord::new(task("a", 5, &[]), State::Claimed, 0);
        r.epoch = 3;
        r.agent = Some("x".into());
        assert!(r.leased_to("x", 3));
        assert!(!r.leased_to("x", 2));
        assert!(!r.leased_to("y", 3));
        assert!(r.stale_reason("x", 2).starts_with("lease_lost"));
        r.state = State::Cancelled;
        assert!(!r.leased_to("x", 3));
        assert_eq!(r.stale_reason("x", 3), "cancelled");
    }

    #[test]
    fn aging_lifts_priority_and_is_capped() {
        let r = TaskRecord::new(task("a", 1, &[]), State::Available, 0);
        let aging = Duration::from_secs(60);
        assert_eq!(r.effective_priority(0, aging), 1);
        assert_eq!(r.effective_priority(59_999, aging), 1);
        assert_eq!(r.effective_priority(120_000, aging), 3);
        assert_eq!(r.effective_priority(i64::MAX, aging), 10);
    }

    #[test]
    fn capability_routing() {
        let r = TaskRecord::new(task("a", 1, &["rust", "git"]), State::Available, 0);
        let caps = |c: &[&str]| c.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        assert!(r.fits(&caps(&["git", "rust", "python"]), &[]));
        assert!(!r.fits(&caps(&["rust"]), &[]));
        assert!(r.fits(&caps(&["rust", "git"]), &["investigation".into()]));
        assert!(!r.fits(&caps(&["rust", "git"]), &["triage".into()]));
    }

    #[test]
    fn ids_and_keys() {
        assert!(valid_id("inv-0123abcd"));
        assert!(valid_id("A_b-9"));
        for bad in ["", "a.b", "a b", "a*", "é", &"x".repeat(129)] {
            assert!(!valid_id(bad), "{bad:?}");
        }
        assert_eq!(task_key("x"), "t.x");
        let k = fingerprint_key("v1:abc");
        assert!(k.starts_with("f.") && k.len() == 34, "{k}");
        assert_eq!(k, fingerprint_key("v1:abc"));
        assert_ne!(k, fingerprint_key("v1:abd"));
        assert_eq!(rfc3339(0), "");
        assert_eq!(rfc3339(1_000), "1970-01-01T00:00:01.000Z");
        assert!(random_id("t").starts_with("t-"));
        assert_ne!(random_id("t"), random_id("t"));
    }

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn graphs_order_parents_first() {
        let g = graph(&[("c", &["b"]), ("b", &["a", "old"]), ("a", &[])]);
        let order = check_graph(&g, |id| id == "old").unwrap();
        let pos = |x: &str| order.iter().position(|o| o == x).unwrap();
        assert!(pos("a") < pos("b") && pos("b") < pos("c"), "{order:?}");
    }

    #[test]
    fn graphs_refuse_cycles_and_unknown_parents() {
        let g = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
        match check_graph(&g, |_| false) {
            Err(GraphError::Cycle(c)) => {
                assert_eq!(c.first(), c.last());
                assert_eq!(c.len(), 4, "{c:?}");
            }
            other => panic!("{other:?}"),
        }
        let selfloop = graph(&[("a", &["a"])]);
        assert!(matches!(
            check_graph(&selfloop, |_| false),
            Err(GraphError::Cycle(_))
        ));
        let unknown = graph(&[("a", &["zz"])]);
        let err = check_graph(&unknown, |_| false).unwrap_err();
        assert_eq!(err.to_string(), "task a is blocked by unknown task zz");
    }
}
