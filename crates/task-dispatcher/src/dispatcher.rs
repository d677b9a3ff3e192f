//! The dispatcher's operations. Every change of a task is a compare-and-set
//! on its KV record; the record's ack subject lets any replica settle the
//! task's JetStream message, so any replica answers any call.
//!
//! Order of effects, everywhere: the record first (CAS), the message after.
//! A crash in between leaves a message whose record already says what
//! happened; its redelivery settles it (see `intake`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use faultline_core::config::DispatcherConfig;
use faultline_core::nats::is_publish_conflict;
use faultline_core::Names;
use faultline_event::task::{Origin, Task, TaskContext};
use faultline_injection_filter::seal::SealKey;
use faultline_injection_filter::{filter_mark, Decision, Thresholds};
use serde_json::{json, Value};

use crate::error::DispatchError;
use crate::metrics::DispatchMetrics;
use crate::record::{
    check_graph, fingerprint_key, now_ms, random_id, rfc3339, task_key, valid_id, AgentRecord,
    DeadLetterRecord, FingerprintRecord, State, TaskRecord,
};
use crate::scan;
use crate::store::{self, Agents, Cas, Kv, Mirror, Versioned};

/// The durable consumer on the tasks stream, shared by every replica.
pub const CONSUMER: &str = "task-dispatcher";

/// The dispatcher: cheap to clone, shared by the API and the loops.
#[derive(Debug, Clone)]
pub struct Dispatcher(pub(crate) Arc<Inner>);

/// What the dispatcher is made of.
#[derive(Debug)]
pub struct Inner {
    pub(crate) cfg: DispatcherConfig,
    pub(crate) names: Names,
    pub(crate) client: async_nats::Client,
    pub(crate) js: jetstream::Context,
    pub(crate) kv: Kv,
    pub(crate) mirror: Arc<Mirror>,
    pub(crate) agents: Agents,
    pub(crate) instance: String,
    pub(crate) thresholds: Thresholds,
    /// Verifies the seals of the injection-filter's tasks (see
    /// `faultline_injection_filter::seal`); without it every task is scanned.
    pub(crate) seal: Option<SealKey>,
    pub(crate) metrics: DispatchMetrics,
    pub(crate) publish_timeout: Duration,
    /// Tasks a claim of this replica is trying to take right now (see
    /// [`Reservation`]).
    pub(crate) claiming: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Keys of fingerprint records this replica knows to exist (see
    /// [`Dispatcher::open_fingerprint`]); at most [`KNOWN_FINGERPRINTS`], emptied when full.
    pub(crate) known_fingerprints: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Fingerprint keys a replica remembers as existing.
pub(crate) const KNOWN_FINGERPRINTS: usize = 50_000;

/// A task one claim of this replica is taking: the other claims here pass
/// it by. Concurrent claims all rank the same best tasks first; without
/// this they race for the same record and all but one lose a round trip to
/// the failed compare-and-set (the claim latency's tail with many agents).
/// Claims on other replicas are still settled by the CAS.
struct Reservation<'a> {
    set: &'a std::sync::Mutex<std::collections::HashSet<String>>,
    id: String,
}

impl<'a> Reservation<'a> {
    fn take(
        set: &'a std::sync::Mutex<std::collections::HashSet<String>>,
        id: &str,
    ) -> Option<Self> {
        set.lock()
            .expect("claims poisoned")
            .insert(id.to_owned())
            .then(|| Self {
                set,
                id: id.to_owned(),
            })
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.set.lock().expect("claims poisoned").remove(&self.id);
    }
}

/// A successful claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The task's record after the claim.
    pub record: TaskRecord,
}

/// What a heartbeat found.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatOutcome {
    /// Leases still valid: (task, epoch).
    pub held: Vec<(String, u64)>,
    /// Leases to stop working on: (task, epoch, reason).
    pub revoked: Vec<(String, u64, String)>,
}

/// A task to submit.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// Optional id.
    pub id: Option<String>,
    /// Type.
    pub kind: String,
    /// 0 to 9.
    pub priority: u8,
    /// Instructions (scanned).
    pub description: String,
    /// Untrusted material (scanned).
    pub context: Value,
    /// Capabilities needed.
    pub required_capabilities: Vec<String>,
    /// Parents.
    pub blocked_by: Vec<String>,
    /// Fingerprint.
    pub fingerprint: Option<String>,
}

/// Milliseconds of a duration, as i64.
pub(crate) fn dur_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn lease_refused(rec: &TaskRecord, agent: &str, epoch: u64) -> DispatchError {
    DispatchError::FailedPrecondition(format!(
        "stale lease on task {}: {}",
        rec.task.id,
        rec.stale_reason(agent, epoch)
    ))
}

/// What [`Dispatcher::complete`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Dependents this completion released.
    pub released: Vec<String>,
    /// The task was already completed by the same `(agent, epoch)`: nothing
    /// changed, `result` is the one stored the first time.
    pub already: bool,
    /// The task's stored result.
    pub result: Value,
}

impl Dispatcher {
    pub(crate) fn cfg(&self) -> &DispatcherConfig {
        &self.0.cfg
    }

    /// The mirror (for listings).
    pub fn mirror(&self) -> &Mirror {
        &self.0.mirror
    }

    // ---- messages ------------------------------------------------------

    /// Publishes and waits for the JetStream ack; returns the sequence.
    pub(crate) async fn publish(
        &self,
        subject: String,
        msg_id: Option<String>,
        payload: Bytes,
        expect_last_subject_seq: Option<u64>,
    ) -> Result<u64, DispatchError> {
        let mut publish = PublishMessage::build().payload(payload);
        if let Some(id) = &msg_id {
            publish = publish.message_id(id.as_str());
        }
        if let Some(seq) = expect_last_subject_seq {
            publish = publish.expected_last_subject_sequence(seq);
        }
        let fut = async {
            let ack = self
                .0
                .js
                .send_publish(subject.clone(), publish)
                .await
                .map_err(|e| (is_publish_conflict(&e), e.to_string()))?;
            ack.await
                .map(|a| a.sequence)
                .map_err(|e| (is_publish_conflict(&e), e.to_string()))
        };
        match tokio::time::timeout(self.0.publish_timeout, fut).await {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err((true, _))) => Err(DispatchError::AlreadyExists(format!(
                "{subject} already has a record"
            ))),
            Ok(Err((_, e))) => Err(DispatchError::Unavailable(format!(
                "publish to {subject}: {e}"
            ))),
            Err(_) => Err(DispatchError::Unavailable(format!(
                "publish to {subject}: no JetStream ack within {:?}",
                self.0.publish_timeout
            ))),
        }
    }

    /// Extends a held message's ack timer.
    pub(crate) async fn wpi(&self, ack: &str) {
        if let Err(e) = self
            .0
            .client
            .publish(ack.to_owned(), Bytes::from_static(b"+WPI"))
            .await
        {
            tracing::debug!(error = %e, "+WPI not sent; the next one or ack_wait covers it");
        }
    }

    /// Acks a message. Not confirmed by the server on purpose: the record
    /// already says what happened, so a lost ack only means a redelivery
    /// that is settled from the record (see `intake`).
    pub(crate) async fn ack(&self, ack: &str) -> Result<(), DispatchError> {
        self.0
            .client
            .publish(ack.to_owned(), Bytes::from_static(b"+ACK"))
            .await
            .map_err(|e| DispatchError::Unavailable(format!("ack: {e}")))
    }

    /// Acks, logging a failure (the redelivery settles it: the record says what happened).
    pub(crate) async fn ack_logged(&self, ack: Option<&str>, task: &str) {
        if let Some(ack) = ack {
            if let Err(e) = self.ack(ack).await {
                tracing::warn!(task, error = %e, "ack failed; the redelivery will be settled from the record");
            }
        }
    }

    /// Redelivers after `delay`.
    pub(crate) async fn nak(&self, ack: &str, delay: Duration) {
        let body = if delay.is_zero() {
            "-NAK".to_owned()
        } else {
            format!("-NAK {{\"delay\": {}}}", delay.as_nanos())
        };
        if let Err(e) = self
            .0
            .client
            .publish(ack.to_owned(), Bytes::from(body))
            .await
        {
            tracing::warn!(error = %e, "-NAK not sent; redelivered after ack_wait");
        }
    }

    /// Removes a message for good (after its copy is stored).
    pub(crate) async fn term(&self, ack: &str, reason: &str) {
        let body = format!("+TERM {reason}");
        if let Err(e) = self
            .0
            .client
            .publish(ack.to_owned(), Bytes::from(body))
            .await
        {
            tracing::warn!(error = %e, "+TERM not sent; the redelivery will be settled from the record");
        }
    }

    // ---- records -------------------------------------------------------

    /// A task's record, from the bucket.
    pub async fn record(&self, id: &str) -> Result<Versioned<TaskRecord>, DispatchError> {
        store::task(&self.0.kv, id)
            .await?
            .ok_or_else(|| DispatchError::NotFound(format!("no task {id}")))
    }

    /// Writes `next` over `rev`; on success the mirror learns it at once.
    pub(crate) async fn cas(
        &self,
        rev: u64,
        next: &TaskRecord,
    ) -> Result<Option<u64>, DispatchError> {
        match self
            .0
            .kv
            .update(&task_key(&next.task.id), next, rev)
            .await?
        {
            Cas::Done(rev) => {
                self.0.mirror.apply(&next.task.id, rev, Some(next.clone()));
                Ok(Some(rev))
            }
            Cas::Conflict => Ok(None),
        }
    }

    /// Creates a record if the id is free.
    pub(crate) async fn create(&self, rec: &TaskRecord) -> Result<Option<u64>, DispatchError> {
        match self.0.kv.create(&task_key(&rec.task.id), rec).await? {
            Cas::Done(rev) => {
                self.0.mirror.apply(&rec.task.id, rev, Some(rec.clone()));
                Ok(Some(rev))
            }
            Cas::Conflict => Ok(None),
        }
    }

    /// Applies `change` to the record by CAS until it holds; `change`
    /// returns an error to refuse. Returns the record written.
    pub(crate) async fn change<F>(
        &self,
        id: &str,
        mut change: F,
    ) -> Result<TaskRecord, DispatchError>
    where
        F: FnMut(&TaskRecord) -> Result<TaskRecord, DispatchError>,
    {
        // First from this replica's mirror: usually current (this replica's
        // own writes reach it at once), and then a round trip is saved. The
        // CAS names the mirror's revision, so a stale copy can only make it
        // fail, never write over a newer record; a refusal decided on the
        // copy is decided again on the leader's record.
        let mut guess = self.0.mirror.get(id);
        for _ in 0..16 {
            let from_mirror = guess.is_some();
            let cur = match guess.take() {
                Some(v) => v,
                None => self.record(id).await?,
            };
            let next = match change(&cur.value) {
                Ok(next) => next,
                Err(_) if from_mirror => continue,
                Err(e) => return Err(e),
            };
            if self.cas(cur.rev, &next).await?.is_some() {
                return Ok(next);
            }
        }
        Err(DispatchError::Unavailable(format!(
            "task {id}: too many concurrent changes; retry"
        )))
    }

    // ---- agents --------------------------------------------------------

    /// Registers (or re-registers) an agent.
    pub async fn register(
        &self,
        id: &str,
        name: &str,
        capabilities: Vec<String>,
        max_tasks: u32,
    ) -> Result<AgentRecord, DispatchError> {
        if !valid_id(id) {
            return Err(DispatchError::InvalidArgument(format!(
                "agent_id {id:?} is invalid: use 1 to 128 of A-Z a-z 0-9 _ -"
            )));
        }
        if capabilities.len() > 64 || capabilities.iter().any(|c| c.is_empty() || c.len() > 64) {
            return Err(DispatchError::InvalidArgument(
                "capabilities: at most 64, each 1 to 64 characters".into(),
            ));
        }
        let now = now_ms();
        let registered_at = self
            .0
            .agents
            .get(id)
            .await?
            .map_or(now, |a| a.registered_at);
        let agent = AgentRecord {
            id: id.to_owned(),
            name: if name.is_empty() {
                id.to_owned()
            } else {
                name.chars().take(128).collect()
            },
            capabilities: capabilities.into_iter().collect(),
            max_tasks: max_tasks.clamp(1, 1024),
            registered_at,
            heartbeat_at: now,
        };
        self.0.agents.put(&agent).await?;
        self.0.metrics.agent_event("registered");
        tracing::info!(agent = id, capabilities = ?agent.capabilities, max_tasks = agent.max_tasks, "agent registered");
        Ok(agent)
    }

    async fn live_agent(&self, id: &str) -> Result<AgentRecord, DispatchError> {
        self.0.agents.get(id).await?.ok_or_else(|| {
            DispatchError::FailedPrecondition(format!(
                "agent {id} is not registered (or its presence expired): register again"
            ))
        })
    }

    /// Renews an agent's presence and the leases it holds.
    pub async fn heartbeat(
        &self,
        agent_id: &str,
        believed: &[(String, u64)],
    ) -> Result<HeartbeatOutcome, DispatchError> {
        let mut agent = self.live_agent(agent_id).await?;
        agent.heartbeat_at = now_ms();
        self.0.agents.put(&agent).await?;
        let mut out = HeartbeatOutcome::default();
        let mut seen = BTreeSet::new();
        for v in self.0.mirror.held_by(agent_id) {
            if let Some(ack) = &v.value.ack {
                self.wpi(ack).await;
            }
            seen.insert((v.value.task.id.clone(), v.value.epoch));
            out.held.push((v.value.task.id.clone(), v.value.epoch));
        }
        for (id, epoch) in believed {
            if seen.contains(&(id.clone(), *epoch)) {
                continue;
            }
            // The mirror may lag behind a claim made on another replica:
            // ask the bucket before revoking anything.
            match store::task(&self.0.kv, id).await? {
                Some(v) if v.value.leased_to(agent_id, *epoch) => {
                    if let Some(ack) = &v.value.ack {
                        self.wpi(ack).await;
                    }
                    out.held.push((id.clone(), *epoch));
                }
                Some(v) => {
                    let reason = match v.value.state {
                        State::Cancelled => "cancelled".to_owned(),
                        State::Completed => "completed".to_owned(),
                        State::Dead => "dead".to_owned(),
                        _ => v
                            .value
                            .last_error
                            .as_deref()
                            .filter(|e| e.starts_with("attempt_time_exceeded"))
                            .map_or_else(
                                || "lease_lost".to_owned(),
                                |_| "attempt_time_exceeded".to_owned(),
                            ),
                    };
                    out.revoked.push((id.clone(), *epoch, reason));
                }
                None => out
                    .revoked
                    .push((id.clone(), *epoch, "unknown_task".into())),
            }
        }
        Ok(out)
    }

    /// Deregisters an agent, handing its tasks back.
    pub async fn deregister(&self, agent_id: &str) -> Result<u32, DispatchError> {
        let mut handed = 0;
        for v in self.0.mirror.held_by(agent_id) {
            if self
                .hand_back(agent_id, &v.value.task.id, v.value.epoch)
                .await
                .is_ok()
            {
                handed += 1;
            }
        }
        self.0.agents.remove(agent_id).await?;
        self.0.metrics.agent_event("deregistered");
        tracing::info!(agent = agent_id, handed_back = handed, "agent deregistered");
        Ok(handed)
    }

    // ---- work ----------------------------------------------------------

    /// Gives `agent_id` the best task it can do, waiting up to `wait`.
    pub async fn claim(
        &self,
        agent_id: &str,
        wait: Duration,
        types: &[String],
    ) -> Result<Option<Claimed>, DispatchError> {
        let started = std::time::Instant::now();
        let mut agent = self.live_agent(agent_id).await?;
        // Any call is a sign of life (renewed once per half interval at most).
        if now_ms() - agent.heartbeat_at > dur_ms(self.cfg().heartbeat_interval) / 2 {
            agent.heartbeat_at = now_ms();
            self.0.agents.put(&agent).await?;
        }
        let deadline = tokio::time::Instant::now() + wait.min(self.cfg().claim_max_wait);
        self.0.mirror.wait_synced().await;
        loop {
            let held = self.0.mirror.held_count(agent_id);
            if held >= agent.max_tasks as usize {
                return Err(DispatchError::AtCapacity(format!(
                    "agent {agent_id} holds {held} of its {} tasks",
                    agent.max_tasks
                )));
            }
            let changed = self.0.mirror.available_changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = now_ms();
            // Enough candidates to get past those other claims here hold.
            let busy = self.0.claiming.lock().expect("claims poisoned").len();
            let candidates = self.0.mirror.candidates(
                &agent.capabilities,
                types,
                now,
                self.cfg().aging,
                8 + busy,
            );
            for cand in candidates {
                // Only an available task can be claimed; the CAS makes sure
                // it is still the record we looked at.
                if cand.value.state != State::Available {
                    continue;
                }
                let Some(_reserved) = Reservation::take(&self.0.claiming, &cand.value.task.id)
                else {
                    continue;
                };
                let mut next = cand.value.clone();
                next.state = State::Claimed;
                next.epoch += 1;
                next.agent = Some(agent_id.to_owned());
                next.holders.push(agent_id.to_owned());
                next.claimed_at = now;
                next.attempt_deadline = now + dur_ms(self.cfg().max_attempt_time);
                next.owner = None;
                next.updated = now;
                if self.cas(cand.rev, &next).await?.is_some() {
                    if let Some(ack) = &next.ack {
                        self.wpi(ack).await;
                    }
                    // A long poll may have outlived the presence renewed at
                    // its start: renew it with the lease it now holds.
                    if now_ms() - agent.heartbeat_at > dur_ms(self.cfg().heartbeat_interval) / 2 {
                        agent.heartbeat_at = now_ms();
                        if let Err(e) = self.0.agents.put(&agent).await {
                            tracing::warn!(agent = agent_id, error = %e, "cannot renew presence after a claim");
                        }
                    }
                    self.0.metrics.claimed(started.elapsed());
                    tracing::debug!(
                        task = next.task.id,
                        agent = agent_id,
                        epoch = next.epoch,
                        "claimed"
                    );
                    return Ok(Some(Claimed { record: next }));
                }
            }
            tokio::select! {
                () = &mut changed => {}
                () = tokio::time::sleep_until(deadline) => return Ok(None),
                // Aging and conflicts: look again now and then.
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    /// Checks a lease against the bucket (authoritative).
    async fn leased(
        &self,
        agent_id: &str,
        task_id: &str,
        epoch: u64,
    ) -> Result<Versioned<TaskRecord>, DispatchError> {
        let v = self.record(task_id).await?;
        if !v.value.leased_to(agent_id, epoch) {
            return Err(lease_refused(&v.value, agent_id, epoch));
        }
        Ok(v)
    }

    /// Records progress and extends the lease.
    pub async fn progress(
        &self,
        agent_id: &str,
        task_id: &str,
        epoch: u64,
        message: &str,
    ) -> Result<(), DispatchError> {
        let v = self.leased(agent_id, task_id, epoch).await?;
        if let Some(ack) = &v.value.ack {
            self.wpi(ack).await;
        }
        let message: String = message.chars().take(2000).collect();
        self.change(task_id, |cur| {
            if !cur.leased_to(agent_id, epoch) {
                return Err(lease_refused(cur, agent_id, epoch));
            }
            let mut next = cur.clone();
            next.progress = Some(message.clone());
            next.progressed_at = now_ms();
            next.updated = next.progressed_at;
            Ok(next)
        })
        .await?;
        Ok(())
    }

    /// Completes a task. Idempotent for its holder: the same `(agent, epoch)`
    /// completing again gets the first completion back (`already`), with the
    /// result stored then, and the message's ack and the dependents' release
    /// are done again (both are idempotent), so a completion cut off half way
    /// is finished by the retry.
    pub async fn complete(
        &self,
        agent_id: &str,
        task_id: &str,
        epoch: u64,
        result: Value,
    ) -> Result<Completion, DispatchError> {
        let completed_by_caller = |cur: &TaskRecord| {
            cur.state == State::Completed
                && cur.epoch == epoch
                && cur.agent.as_deref() == Some(agent_id)
        };
        let mut already = None;
        let changed = self
            .change(task_id, |cur| {
                // Called again on a newer record after a refusal or a conflict.
                already = None;
                if completed_by_caller(cur) {
                    already = Some(cur.clone());
                    return Err(lease_refused(cur, agent_id, epoch));
                }
                if !cur.leased_to(agent_id, epoch) {
                    return Err(lease_refused(cur, agent_id, epoch));
                }
                let mut next = cur.clone();
                next.state = State::Completed;
                next.result = Some(result.clone());
                next.progressed_at = now_ms();
                next.updated = next.progressed_at;
                Ok(next)
            })
            .await;
        let (rec, is_repeat) = match (changed, already) {
            (Ok(rec), _) => (rec, false),
            (Err(_), Some(rec)) => (rec, true),
            (Err(err), None) => return Err(err),
        };
        self.ack_logged(rec.ack.as_deref(), task_id).await;
        if is_repeat {
            tracing::info!(
                task = task_id,
                agent = agent_id,
                epoch,
                "completed again by its holder"
            );
        } else {
            self.0.metrics.finished("completed");
            tracing::info!(task = task_id, agent = agent_id, epoch, "completed");
        }
        let released = self.ended(&rec).await?;
        Ok(Completion {
            released,
            already: is_repeat,
            result: rec.result.unwrap_or(Value::Null),
        })
    }

    /// Fails an attempt: retryable (after `retry_after`, or the backoff) or
    /// permanent (dead letter, never redelivered).
    pub async fn fail(
        &self,
        agent_id: &str,
        task_id: &str,
        epoch: u64,
        error: &str,
        permanent: bool,
        retry_after: Option<Duration>,
    ) -> Result<TaskRecord, DispatchError> {
        let error: String = error.chars().take(4000).collect();
        let v = self.leased(agent_id, task_id, epoch).await?;
        if permanent {
            self.0.metrics.failed("permanent");
            return self
                .kill(v, "permanent_failure", &error, Some((agent_id, epoch)))
                .await;
        }
        if v.value.attempt >= self.cfg().max_attempts {
            self.0.metrics.failed("retryable");
            let why = format!(
                "{error} (attempt {} of {})",
                v.value.attempt,
                self.cfg().max_attempts
            );
            return self
                .kill(v, "attempts_exhausted", &why, Some((agent_id, epoch)))
                .await;
        }
        // An agent's delay is capped (a day) so no arithmetic can overflow.
        let delay = retry_after
            .map(|d| d.min(Duration::from_secs(86_400)))
            .unwrap_or_else(|| self.cfg().backoff(v.value.attempt));
        let rec = self
            .change(task_id, |cur| {
                if !cur.leased_to(agent_id, epoch) {
                    return Err(lease_refused(cur, agent_id, epoch));
                }
                let mut next = cur.clone();
                next.state = State::Retrying;
                next.agent = None;
                next.last_error = Some(error.clone());
                next.next_attempt_at = now_ms() + dur_ms(delay);
                next.updated = now_ms();
                Ok(next)
            })
            .await?;
        if let Some(ack) = &rec.ack {
            self.nak(ack, delay).await;
        }
        self.0.metrics.failed("retryable");
        tracing::info!(
            task = task_id,
            agent = agent_id,
            epoch,
            ?delay,
            error,
            "attempt failed; retrying"
        );
        Ok(rec)
    }

    /// Hands a task back without counting an attempt: it stays held by
    /// this replica, available to others at once.
    pub async fn hand_back(
        &self,
        agent_id: &str,
        task_id: &str,
        epoch: u64,
    ) -> Result<(), DispatchError> {
        let rec = self
            .change(task_id, |cur| {
                if !cur.leased_to(agent_id, epoch) {
                    return Err(lease_refused(cur, agent_id, epoch));
                }
                let mut next = cur.clone();
                next.state = State::Available;
                next.agent = None;
                next.owner = Some(self.0.instance.clone());
                next.available_since = now_ms();
                next.updated = next.available_since;
                Ok(next)
            })
            .await?;
        if let Some(ack) = &rec.ack {
            self.wpi(ack).await;
        }
        self.0.metrics.agent_event("handed_back");
        Ok(())
    }

    /// Takes a lease away (agent gone, attempt too long): the message is
    /// redelivered (one attempt spent) or, on the last attempt, dead-lettered.
    pub(crate) async fn revoke(
        &self,
        v: Versioned<TaskRecord>,
        reason: &str,
    ) -> Result<(), DispatchError> {
        let Some(agent) = v.value.agent.clone() else {
            return Ok(());
        };
        let epoch = v.value.epoch;
        if v.value.attempt >= self.cfg().max_attempts {
            let kind = if reason.starts_with("attempt_time_exceeded") {
                "attempt_time_exceeded"
            } else {
                "attempts_exhausted"
            };
            self.kill(v, kind, reason, Some((&agent, epoch))).await?;
            return Ok(());
        }
        let mut next = v.value.clone();
        next.state = State::Retrying;
        next.agent = None;
        next.last_error = Some(reason.to_owned());
        next.next_attempt_at = now_ms();
        next.updated = now_ms();
        if self.cas(v.rev, &next).await?.is_none() {
            return Ok(()); // another replica acted first
        }
        if let Some(ack) = &next.ack {
            self.nak(ack, Duration::ZERO).await;
        }
        self.0
            .metrics
            .revoked(reason.split(':').next().unwrap_or(reason));
        tracing::warn!(
            task = next.task.id,
            agent,
            epoch,
            reason,
            "lease revoked; the task goes to another agent"
        );
        Ok(())
    }

    // ---- ends ----------------------------------------------------------

    /// Dead-letters a task: the copy first (with its reason), then the
    /// record, then the message is terminated. `lease` fences the caller.
    pub(crate) async fn kill(
        &self,
        v: Versioned<TaskRecord>,
        reason: &str,
        error: &str,
        lease: Option<(&str, u64)>,
    ) -> Result<TaskRecord, DispatchError> {
        let rec = &v.value;
        let dl = DeadLetterRecord {
            task: rec.task.clone(),
            reason: reason.to_owned(),
            attempts: rec.attempt,
            last_error: Some(error.to_owned()),
            holders: rec.holders.clone(),
            fingerprint: rec.task.fingerprint.clone(),
            dead_at: rfc3339(now_ms()),
            task_seq: rec.seq,
        };
        let subject = self
            .0
            .names
            .dead_task(&rec.task.kind)
            .map_err(|e| DispatchError::Internal(e.to_string()))?;
        let msg_id = format!(
            "{}-dead-{}-{}-{}",
            self.0.names.namespace(),
            rec.task.id,
            rec.epoch,
            rec.replays
        );
        let payload =
            serde_json::to_vec(&dl).map_err(|e| DispatchError::Internal(e.to_string()))?;
        let seq = self
            .publish(subject, Some(msg_id), payload.into(), None)
            .await?;
        let reason_owned = reason.to_owned();
        let error_owned = error.to_owned();
        let next = self
            .change(&rec.task.id, |cur| {
                if let Some((agent, epoch)) = lease {
                    if !cur.leased_to(agent, epoch) {
                        return Err(lease_refused(cur, agent, epoch));
                    }
                }
                if cur.state.is_terminal() {
                    return Err(DispatchError::FailedPrecondition(format!(
                        "task {} is already {}",
                        cur.task.id,
                        cur.state.as_str()
                    )));
                }
                let mut next = cur.clone();
                next.state = State::Dead;
                next.agent = None;
                next.dead_letter = Some(seq);
                next.last_error = Some(format!("{reason_owned}: {error_owned}"));
                next.updated = now_ms();
                Ok(next)
            })
            .await?;
        if let Some(ack) = &next.ack {
            if next.seq.is_some() {
                self.term(ack, reason).await;
            }
        }
        self.0.metrics.dead(reason);
        tracing::warn!(
            task = next.task.id,
            reason,
            error,
            dead_letter = seq,
            "task dead-lettered"
        );
        self.ended(&next).await?;
        Ok(next)
    }

    /// What follows a task's end: its fingerprint's record, its dependents.
    /// Returns the dependents released (for a completion).
    pub(crate) async fn ended(&self, rec: &TaskRecord) -> Result<Vec<String>, DispatchError> {
        if let Some(fp) = &rec.task.fingerprint {
            let id = rec.task.id.clone();
            let state = rec.state;
            let suppress_after = self.cfg().suppress_after_dead;
            let fp_owned = fp.clone();
            self.0
                .kv
                .modify::<FingerprintRecord, _>(&fingerprint_key(fp), |cur| {
                    let mut next = cur.cloned().unwrap_or_else(|| FingerprintRecord {
                        fingerprint: fp_owned.clone(),
                        ..Default::default()
                    });
                    if next.open_task.as_deref() == Some(id.as_str()) {
                        next.open_task = None;
                    }
                    match state {
                        State::Completed => next.last_completed = Some(id.clone()),
                        State::Dead => {
                            next.dead += 1;
                            if next.dead >= suppress_after && !next.suppressed {
                                next.suppressed = true;
                                tracing::warn!(
                                    fingerprint = fp_owned,
                                    dead = next.dead,
                                    "fingerprint suppressed: no new tasks until a person clears it"
                                );
                            }
                        }
                        _ => {}
                    }
                    Some(next)
                })
                .await?;
        }
        let mut dependents = self.0.mirror.in_state(State::Blocked);
        dependents.retain(|v| v.value.task.blocked_by.iter().any(|p| p == &rec.task.id));
        let mut released = Vec::new();
        for d in dependents {
            if let Some(id) = self.settle_blocked(d).await? {
                released.push(id);
            }
        }
        Ok(released)
    }

    /// Releases a blocked task whose parents all completed, or kills it
    /// when one died. Returns its id when released.
    pub(crate) async fn settle_blocked(
        &self,
        v: Versioned<TaskRecord>,
    ) -> Result<Option<String>, DispatchError> {
        let mut dead_parent = None;
        let mut waiting = false;
        for p in &v.value.task.blocked_by {
            match self.parent(p).await? {
                Some(pv) if pv.value.state == State::Completed => {}
                Some(pv)
                    if matches!(
                        pv.value.state,
                        State::Dead | State::Cancelled | State::Rejected | State::Suppressed
                    ) =>
                {
                    dead_parent = Some((p.clone(), pv.value.state, pv.value.last_error.clone()));
                    break;
                }
                // Still open (an attached parent was followed to its open
                // task): wait for it.
                Some(_) => waiting = true,
                None => {
                    dead_parent =
                        Some((p.clone(), State::Dead, Some("parent record is gone".into())));
                    break;
                }
            }
        }
        if let Some((parent, state, why)) = dead_parent {
            let error = format!(
                "parent {parent} is {}{}",
                state.as_str(),
                why.map(|w| format!(" ({w})")).unwrap_or_default()
            );
            let v = self.record(&v.value.task.id).await?;
            if v.value.state != State::Blocked {
                return Ok(None);
            }
            Box::pin(self.kill(v, "dependency_failed", &error, None)).await?;
            return Ok(None);
        }
        if waiting {
            return Ok(None);
        }
        let mut next = v.value.clone();
        next.state = State::Queued;
        next.updated = now_ms();
        if self.cas(v.rev, &next).await?.is_none() {
            return Ok(None);
        }
        self.enqueue(&next.task, "unblock").await?;
        tracing::info!(task = next.task.id, "dependencies completed; task released");
        Ok(Some(next.task.id))
    }

    /// Publishes a task's message on `{ns}.tasks.<type>`.
    pub(crate) async fn enqueue(&self, task: &Task, why: &str) -> Result<u64, DispatchError> {
        let subject = self
            .0
            .names
            .task_subject(&task.kind)
            .map_err(|e| DispatchError::InvalidArgument(e.to_string()))?;
        let payload =
            serde_json::to_vec(task).map_err(|e| DispatchError::Internal(e.to_string()))?;
        let msg_id = format!(
            "{}-{why}-{}-{}",
            self.0.names.namespace(),
            task.id,
            task.attempts
        );
        self.publish(subject, Some(msg_id), payload.into(), None)
            .await
    }

    // ---- operators -----------------------------------------------------

    /// Cancels a task; its agent learns it on its next heartbeat.
    pub async fn cancel(
        &self,
        task_id: &str,
        operator: &str,
        reason: &str,
    ) -> Result<(), DispatchError> {
        if operator.trim().is_empty() || reason.trim().is_empty() {
            return Err(DispatchError::InvalidArgument(
                "operator and reason are required".into(),
            ));
        }
        let why = format!("cancelled by {operator}: {reason}");
        let rec = self
            .change(task_id, |cur| {
                if cur.state.is_terminal() {
                    return Err(DispatchError::FailedPrecondition(format!(
                        "task {task_id} is already {}",
                        cur.state.as_str()
                    )));
                }
                let mut next = cur.clone();
                next.state = State::Cancelled;
                next.last_error = Some(why.clone());
                next.updated = now_ms();
                Ok(next)
            })
            .await?;
        self.ack_logged(rec.ack.as_deref(), task_id).await;
        self.0.metrics.finished("cancelled");
        tracing::info!(task = task_id, operator, reason, "task cancelled");
        self.ended(&rec).await?;
        Ok(())
    }

    /// Submits tasks (a job when several): scanned, graph-checked, stored,
    /// then published. Returns the ids and their first state.
    pub async fn submit(
        &self,
        job_id: Option<String>,
        specs: Vec<Submission>,
    ) -> Result<Vec<(String, State)>, DispatchError> {
        if specs.is_empty() || specs.len() > 1000 {
            return Err(DispatchError::InvalidArgument(
                "submit 1 to 1000 tasks".into(),
            ));
        }
        if let Some(job) = &job_id {
            if !valid_id(job) {
                return Err(DispatchError::InvalidArgument(format!(
                    "job_id {job:?} is invalid"
                )));
            }
        }
        let now = now_ms();
        let mut tasks = Vec::with_capacity(specs.len());
        for spec in specs {
            let id = spec
                .id
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| random_id("api"));
            if !valid_id(&id) {
                return Err(DispatchError::InvalidArgument(format!(
                    "task id {id:?} is invalid: use 1 to 128 of A-Z a-z 0-9 _ -"
                )));
            }
            let kind = if spec.kind.is_empty() {
                "investigation".to_owned()
            } else {
                spec.kind
            };
            self.0
                .names
                .task_subject(&kind)
                .map_err(|e| DispatchError::InvalidArgument(e.to_string()))?;
            if spec.priority > faultline_event::task::MAX_PRIORITY {
                return Err(DispatchError::InvalidArgument(format!(
                    "priority {} is out of range 0 to 9",
                    spec.priority
                )));
            }
            if spec.description.trim().is_empty() {
                return Err(DispatchError::InvalidArgument(format!(
                    "task {id}: description is empty"
                )));
            }
            let task = Task {
                id,
                kind,
                priority: spec.priority,
                description: spec.description,
                context: TaskContext {
                    event: (!spec.context.is_null()).then_some(spec.context),
                    filter: None,
                },
                required_capabilities: spec.required_capabilities,
                blocked_by: spec.blocked_by,
                job_id: job_id.clone(),
                fingerprint: spec.fingerprint.filter(|f| !f.is_empty()),
                origin: Origin {
                    kind: "api".into(),
                    ..Origin::default()
                },
                attempts: 0,
                created_at: rfc3339(now),
            };
            let verdict = scan::scan_task(&task, &self.0.thresholds);
            if verdict.decision == Decision::Reject {
                self.0.metrics.refused("task");
                return Err(DispatchError::Refused(format!(
                    "task {}: {}",
                    task.id,
                    scan::refusal_message(|f| scan::task_field_text(&task, f), &verdict)
                )));
            }
            tasks.push((task, verdict));
        }
        // Dependencies: parents in this submission or existing; no cycle.
        let graph: BTreeMap<String, Vec<String>> = tasks
            .iter()
            .map(|(t, _)| (t.id.clone(), t.blocked_by.clone()))
            .collect();
        if graph.len() != tasks.len() {
            return Err(DispatchError::InvalidArgument(
                "task ids repeat in the submission".into(),
            ));
        }
        let mut existing = BTreeSet::new();
        for parents in graph.values() {
            for p in parents {
                if !graph.contains_key(p) && store::task(&self.0.kv, p).await?.is_some() {
                    existing.insert(p.clone());
                }
            }
        }
        let order = check_graph(&graph, |p| existing.contains(p))
            .map_err(|e| DispatchError::InvalidArgument(e.to_string()))?;
        for (t, _) in &tasks {
            if store::task(&self.0.kv, &t.id).await?.is_some() {
                return Err(DispatchError::AlreadyExists(format!(
                    "task {} exists",
                    t.id
                )));
            }
        }
        let mut by_id: BTreeMap<String, (Task, faultline_injection_filter::Verdict)> = tasks
            .into_iter()
            .map(|(t, v)| (t.id.clone(), (t, v)))
            .collect();
        let mut out = Vec::new();
        for id in order {
            let (mut task, verdict) = by_id.remove(&id).expect("ordered ids come from the map");
            task.context.filter = Some(filter_mark(verdict.decision.as_str(), &verdict, None));
            // One open task per fingerprint.
            let mut regression_of = None;
            if let Some(fp) = task.fingerprint.clone() {
                match self.open_fingerprint(&fp, &task.id).await? {
                    FingerprintSlot::Open { regression_of: r } => regression_of = r,
                    FingerprintSlot::Attach(open) => {
                        self.attach(&task, &open, None).await?;
                        out.push((task.id, State::Attached));
                        continue;
                    }
                    FingerprintSlot::Suppressed => {
                        return Err(DispatchError::FailedPrecondition(format!(
                            "fingerprint {fp} is suppressed after repeated dead letters: clear it first"
                        )));
                    }
                }
            }
            let blocked = !self.parents_completed(&task.blocked_by).await?;
            let state = if blocked {
                State::Blocked
            } else {
                State::Queued
            };
            let mut rec = TaskRecord::new(task.clone(), state, now);
            rec.regression_of = regression_of;
            if self.create(&rec).await?.is_none() {
                return Err(DispatchError::AlreadyExists(format!(
                    "task {} exists",
                    task.id
                )));
            }
            if state == State::Queued {
                self.enqueue(&task, "task").await?;
            } else {
                // A parent may have completed since we looked.
                if let Some(v) = store::task(&self.0.kv, &task.id).await? {
                    self.settle_blocked(v).await?;
                }
            }
            self.0.metrics.submitted("api");
            out.push((task.id, state));
        }
        Ok(out)
    }

    /// Takes the fingerprint's open slot for `task_id`, or says which open
    /// task to attach to, or that it is suppressed.
    pub(crate) async fn open_fingerprint(
        &self,
        fp: &str,
        task_id: &str,
    ) -> Result<FingerprintSlot, DispatchError> {
        let key = fingerprint_key(fp);
        // A fingerprint this replica has not seen is most likely new: creating its record
        // straight away saves reading that it does not exist. If it does exist, the create
        // fails and the record is read as usual.
        let known = {
            let mut set = self
                .0
                .known_fingerprints
                .lock()
                .expect("fingerprints poisoned");
            if set.len() >= KNOWN_FINGERPRINTS && !set.contains(&key) {
                set.clear();
            }
            !set.insert(key.clone())
        };
        if !known {
            let first = FingerprintRecord {
                fingerprint: fp.to_owned(),
                open_task: Some(task_id.to_owned()),
                ..Default::default()
            };
            if matches!(self.0.kv.create(&key, &first).await?, Cas::Done(_)) {
                return Ok(FingerprintSlot::Open {
                    regression_of: None,
                });
            }
        }
        for _ in 0..16 {
            let cur: Option<Versioned<FingerprintRecord>> = self.0.kv.get(&key).await?;
            let mut next =
                cur.as_ref()
                    .map(|v| v.value.clone())
                    .unwrap_or_else(|| FingerprintRecord {
                        fingerprint: fp.to_owned(),
                        ..Default::default()
                    });
            if next.suppressed {
                return Ok(FingerprintSlot::Suppressed);
            }
            match next.open_task.clone() {
                Some(open) if open == task_id => {
                    return Ok(FingerprintSlot::Open {
                        regression_of: next.last_completed.clone(),
                    })
                }
                Some(open) => {
                    let alive = matches!(store::task(&self.0.kv, &open).await?, Some(v) if !v.value.state.is_terminal());
                    if alive {
                        return Ok(FingerprintSlot::Attach(open));
                    }
                }
                None => {}
            }
            next.open_task = Some(task_id.to_owned());
            let cas = match &cur {
                Some(v) => self.0.kv.update(&key, &next, v.rev).await?,
                None => self.0.kv.create(&key, &next).await?,
            };
            if matches!(cas, Cas::Done(_)) {
                return Ok(FingerprintSlot::Open {
                    regression_of: next.last_completed,
                });
            }
        }
        Err(DispatchError::Unavailable(format!(
            "fingerprint {fp}: too many concurrent writers; retry"
        )))
    }

    /// Records `task` as an occurrence of the open task `open` and counts it
    /// there. Returns false when `task` already had a record (nothing counted).
    pub(crate) async fn attach(
        &self,
        task: &Task,
        open: &str,
        seq: Option<u64>,
    ) -> Result<bool, DispatchError> {
        let mut rec = TaskRecord::new(task.clone(), State::Attached, now_ms());
        rec.attached_to = Some(open.to_owned());
        rec.seq = seq;
        if self.create(&rec).await?.is_none() {
            return Ok(false);
        }
        self.add_occurrence(open).await?;
        Ok(true)
    }

    /// A parent's record; a parent attached to another open task (the same
    /// fingerprint) stands for that task, so the link is followed (a
    /// bounded number of hops).
    pub(crate) async fn parent(
        &self,
        id: &str,
    ) -> Result<Option<Versioned<TaskRecord>>, DispatchError> {
        let mut rec = store::task(&self.0.kv, id).await?;
        for _ in 0..8 {
            match &rec {
                Some(v) if v.value.state == State::Attached => match &v.value.attached_to {
                    Some(open) => rec = store::task(&self.0.kv, open).await?,
                    None => break,
                },
                _ => break,
            }
        }
        Ok(rec)
    }

    /// Whether every task in `parents` has completed (read from the bucket).
    pub(crate) async fn parents_completed(
        &self,
        parents: &[String],
    ) -> Result<bool, DispatchError> {
        for p in parents {
            let done =
                matches!(self.parent(p).await?, Some(v) if v.value.state == State::Completed);
            if !done {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Counts one more occurrence on an open task.
    pub(crate) async fn add_occurrence(&self, open: &str) -> Result<(), DispatchError> {
        let r = self
            .change(open, |cur| {
                let mut next = cur.clone();
                next.occurrences += 1;
                next.updated = now_ms();
                Ok(next)
            })
            .await;
        match r {
            Ok(_) | Err(DispatchError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Clears a suppressed fingerprint (recorded on `{ns}.dead.cleared.<key>`).
    pub async fn clear_fingerprint(
        &self,
        fp: &str,
        operator: &str,
        reason: &str,
    ) -> Result<(), DispatchError> {
        if operator.trim().is_empty() || reason.trim().is_empty() {
            return Err(DispatchError::InvalidArgument(
                "operator and reason are required".into(),
            ));
        }
        let key = fingerprint_key(fp);
        let cur: Option<Versioned<FingerprintRecord>> = self.0.kv.get(&key).await?;
        if cur.is_none() {
            return Err(DispatchError::NotFound(format!(
                "no record of fingerprint {fp}"
            )));
        }
        let record = json!({"fingerprint": fp, "operator": operator, "reason": reason, "cleared_at": rfc3339(now_ms())});
        let subject = self
            .0
            .names
            .dead_cleared(&crate::record::fingerprint_token(fp));
        self.publish(
            subject,
            None,
            serde_json::to_vec(&record).unwrap_or_default().into(),
            None,
        )
        .await?;
        self.0
            .kv
            .modify::<FingerprintRecord, _>(&key, |cur| {
                let mut next = cur.cloned()?;
                next.suppressed = false;
                next.dead = 0;
                Some(next)
            })
            .await?;
        tracing::info!(fingerprint = fp, operator, reason, "fingerprint cleared");
        Ok(())
    }
}

/// What a new task of a fingerprint does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FingerprintSlot {
    /// It is the open task; `regression_of` is the last completed one.
    Open {
        /// The last completed task of the fingerprint.
        regression_of: Option<String>,
    },
    /// Attach it to this open task.
    Attach(String),
    /// No new tasks until a person clears the fingerprint.
    Suppressed,
}
