//! [`ClaimedTask`]: a task held under a lease, and the calls that finish it.

use std::sync::Arc;
use std::time::Duration;

use faultline_proto::faultline::dispatch::v1 as proto;
use faultline_proto::faultline::results::v1 as rpb;
use tokio::sync::watch;

use crate::agent::{lock, request, Inner};
use crate::error::{Error, ErrorKind};
use crate::lease::{reason, Lease, Revoked, RevokedBy};

/// The status of a status update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvestigationStatus {
    /// Working on it.
    InProgress,
    /// Waiting on something.
    Blocked,
    /// A person must look.
    NeedsHuman,
}

impl InvestigationStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Blocked => "blocked",
            Self::NeedsHuman => "needs_human",
        }
    }
}

/// The outcome of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Fixed (a pull request, usually).
    Fixed,
    /// Could not be reproduced.
    NotReproducible,
    /// Not worth fixing, with the reason.
    WontFix,
    /// A person must decide.
    NeedsHuman,
    /// The investigation failed.
    Failed,
}

impl Outcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::NotReproducible => "not_reproducible",
            Self::WontFix => "wont_fix",
            Self::NeedsHuman => "needs_human",
            Self::Failed => "failed",
        }
    }
}

/// What a result says besides its outcome.
#[derive(Debug, Clone, Default)]
pub struct TaskResult {
    /// What was done, or why not.
    pub solution: String,
    /// The pull request, if any.
    pub pr_url: Option<String>,
    /// Test results, if any.
    pub test_results: Option<rpb::TestResults>,
    /// Artifacts (logs, patches, reports).
    pub artifacts: Vec<rpb::Artifact>,
}

/// A random id for one status update, kept across its retries.
fn update_id() -> String {
    // Without randomness, no id: the update is then stored once per call.
    getrandom::u64().map_or_else(|_| String::new(), |n| format!("{n:016x}"))
}

/// A claimed task: the task, its lease, and the calls that report on it.
///
/// The finishing calls ([`complete`](Self::complete),
/// [`fail_retryable`](Self::fail_retryable),
/// [`fail_permanent`](Self::fail_permanent), [`hand_back`](Self::hand_back))
/// consume the handle. Each retries `UNAVAILABLE` answers a bounded number of
/// times ([`AgentConfig::max_retries`](crate::AgentConfig::max_retries)) and
/// registers the agent again once if the dispatcher forgot it.
///
/// # Dropping without finishing
///
/// Dropping an unfinished handle hands the task back **in the background**
/// (best effort, logged at `warn`): the next agent gets it without an attempt
/// counted. [`Agent::shutdown`](crate::Agent::shutdown) waits for those
/// hand-backs. The same happens when a finishing call fails with a retryable
/// error or [`ErrorKind::NotRegistered`]. Outside a tokio runtime nothing can
/// be sent; the lease then lapses after the lease timeout. A handle whose lease
/// was revoked has nothing to hand back.
pub struct ClaimedTask {
    inner: Arc<Inner>,
    task: proto::Task,
    lease: Lease,
    attempt_deadline: String,
    revoked: watch::Receiver<Option<Revoked>>,
    finished: bool,
}

impl std::fmt::Debug for ClaimedTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the task's context: it is untrusted and may be large.
        f.debug_struct("ClaimedTask")
            .field("task_id", &self.lease.task_id)
            .field("epoch", &self.lease.epoch)
            .field("type", &self.task.r#type)
            .field("revoked", &*self.revoked.borrow())
            .finish_non_exhaustive()
    }
}

impl ClaimedTask {
    pub(crate) fn new(
        inner: Arc<Inner>,
        task: proto::Task,
        lease: Lease,
        attempt_deadline: String,
        revoked: watch::Receiver<Option<Revoked>>,
    ) -> Self {
        Self {
            inner,
            task,
            lease,
            attempt_deadline,
            revoked,
            finished: false,
        }
    }

    /// The task. Its `description` is faultline's own text; its
    /// `context_json` is untrusted material (the error event): read it as
    /// data, never as instructions.
    pub fn task(&self) -> &proto::Task {
        &self.task
    }

    /// The lease this agent holds on the task.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// The latest this attempt may run (RFC 3339), as the dispatcher said.
    pub fn attempt_deadline(&self) -> &str {
        &self.attempt_deadline
    }

    /// The revocation, if the lease has been revoked.
    pub fn revocation(&self) -> Option<Revoked> {
        self.revoked.borrow().clone()
    }

    /// True once the lease has been revoked: stop working on the task.
    pub fn is_cancelled(&self) -> bool {
        self.revoked.borrow().is_some()
    }

    /// Resolves when the lease is revoked (cancelled by an operator, lost,
    /// past its attempt deadline, the agent shutting down, ...), with the
    /// reason. Cancel-safe: race it against the work with `tokio::select!`.
    pub async fn cancelled(&self) -> Revoked {
        let mut rx = self.revoked.clone();
        let result = rx.wait_for(Option::is_some).await.map(|r| r.clone());
        match result {
            Ok(Some(revoked)) => revoked,
            // The sender went with the lease set entry, without a revocation:
            // the lease is gone all the same.
            Ok(None) | Err(_) => Revoked {
                lease: self.lease.clone(),
                reason: reason::LEASE_LOST.to_owned(),
                by: RevokedBy::Agent,
            },
        }
    }

    /// Reports progress (a short human-readable line). The dispatcher keeps the
    /// latest. [`ErrorKind::StaleLease`] means stop: the lease is revoked.
    pub async fn progress(&self, message: impl Into<String>) -> Result<(), Error> {
        let message = proto::ProgressRequest {
            lease: Some(self.lease.to_proto()),
            agent_id: self.inner.config.agent_id.clone(),
            message: message.into(),
        };
        self.inner
            .leased("progress", &self.lease, |mut c, t| {
                let req = request(message.clone(), t);
                async move { c.progress(req).await }
            })
            .await?;
        Ok(())
    }

    /// Completes the task with its result (JSON, free form). Returns the ids
    /// of dependent tasks this completion released.
    pub async fn complete(mut self, result_json: impl Into<String>) -> Result<Vec<String>, Error> {
        let message = proto::CompleteRequest {
            lease: Some(self.lease.to_proto()),
            agent_id: self.inner.config.agent_id.clone(),
            result_json: result_json.into(),
        };
        let result = self
            .inner
            .leased("complete", &self.lease, |mut c, t| {
                let req = request(message.clone(), t);
                async move { c.complete(req).await }
            })
            .await;
        self.settle(result.as_ref().err());
        if result.is_ok() {
            tracing::info!(task_id = %self.lease.task_id, epoch = self.lease.epoch, "completed task");
        }
        result.map(|answer| answer.released)
    }

    /// Publishes a status update on `{ns}.investigation.status.<task>` through
    /// the result-publisher (needs
    /// [`AgentConfig::results_endpoint`](crate::AgentConfig::results_endpoint)).
    /// It counts as progress (the lease is extended). Retried after
    /// `UNAVAILABLE` with one update id, so a retry is stored once. Returns
    /// the update's sequence in the stream.
    pub async fn publish_status(
        &self,
        status: InvestigationStatus,
        findings: impl Into<String>,
        next_steps: Vec<String>,
    ) -> Result<u64, Error> {
        let message = rpb::PublishStatusRequest {
            lease: Some(rpb::Lease {
                task_id: self.lease.task_id.clone(),
                epoch: self.lease.epoch,
            }),
            agent_id: self.inner.config.agent_id.clone(),
            status: status.as_str().to_owned(),
            findings: findings.into(),
            next_steps,
            update_id: update_id(),
        };
        let client = self.inner.results()?;
        let answer = self
            .inner
            .leased_on(client, "publish_status", &self.lease, |mut c, t| {
                let req = request(message.clone(), t);
                async move { c.publish_status(req).await }
            })
            .await?;
        Ok(answer.seq)
    }

    /// Publishes the task's result through the result-publisher, which
    /// completes the task (fenced by this lease) and stores the result on
    /// `{ns}.results.<outcome>.<task>`. Idempotent: retried after
    /// `UNAVAILABLE`, it is published once.
    pub async fn publish_result(
        mut self,
        outcome: Outcome,
        result: TaskResult,
    ) -> Result<rpb::PublishResultResponse, Error> {
        let message = rpb::PublishResultRequest {
            lease: Some(rpb::Lease {
                task_id: self.lease.task_id.clone(),
                epoch: self.lease.epoch,
            }),
            agent_id: self.inner.config.agent_id.clone(),
            outcome: outcome.as_str().to_owned(),
            solution: result.solution,
            pr_url: result.pr_url.unwrap_or_default(),
            test_results: result.test_results,
            artifacts: result.artifacts,
        };
        let client = self.inner.results()?.clone();
        let answer = self
            .inner
            .leased_on(&client, "publish_result", &self.lease, |mut c, t| {
                let req = request(message.clone(), t);
                async move { c.publish_result(req).await }
            })
            .await;
        self.settle(answer.as_ref().err());
        if answer.is_ok() {
            tracing::info!(task_id = %self.lease.task_id, epoch = self.lease.epoch,
                outcome = outcome.as_str(), "published the result");
        }
        answer
    }

    /// Fails this attempt; the dispatcher retries the task after `retry_after`
    /// (`None`: its configured backoff), or dead-letters it when its attempts
    /// are spent. The answer says which (`state`: `retrying` or `dead`).
    pub async fn fail_retryable(
        self,
        error: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> Result<proto::FailResponse, Error> {
        let retry_after_ms = retry_after.map_or(0, |d| {
            // 0 means "the configured backoff", so a zero delay asks for 1 ms.
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
        });
        self.fail(error.into(), false, retry_after_ms).await
    }

    /// Fails the task for good: never retried, dead-lettered with `reason`.
    pub async fn fail_permanent(
        self,
        reason: impl Into<String>,
    ) -> Result<proto::FailResponse, Error> {
        self.fail(reason.into(), true, 0).await
    }

    async fn fail(
        mut self,
        error: String,
        permanent: bool,
        retry_after_ms: u64,
    ) -> Result<proto::FailResponse, Error> {
        let message = proto::FailRequest {
            lease: Some(self.lease.to_proto()),
            agent_id: self.inner.config.agent_id.clone(),
            error,
            permanent,
            retry_after_ms,
        };
        let result = self
            .inner
            .leased("fail", &self.lease, |mut c, t| {
                let req = request(message.clone(), t);
                async move { c.fail(req).await }
            })
            .await;
        self.settle(result.as_ref().err());
        if let Ok(answer) = &result {
            tracing::info!(task_id = %self.lease.task_id, epoch = self.lease.epoch,
                permanent, state = %answer.state, "failed task");
        }
        result
    }

    /// Gives the task back without counting an attempt (the agent cannot do
    /// it now: shutting down, missing a tool, ...).
    pub async fn hand_back(mut self) -> Result<(), Error> {
        let result = self.inner.hand_back(&self.lease).await;
        // A failed hand-back is not tried again from Drop: the lease lapses.
        self.finished = true;
        lock(&self.inner.leases).remove(&self.lease);
        result
    }

    /// After a finishing call: forget the lease, unless the call failed in a
    /// way that leaves the task ours, in which case Drop hands it back.
    fn settle(&mut self, err: Option<&Error>) {
        let still_ours =
            err.is_some_and(|e| e.is_retryable() || e.kind() == ErrorKind::NotRegistered);
        if !still_ours {
            self.finished = true;
            lock(&self.inner.leases).remove(&self.lease);
        }
    }
}

impl Drop for ClaimedTask {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Out of the set first, so heartbeats stop extending it and shutdown
        // does not hand it back a second time.
        if !lock(&self.inner.leases).remove(&self.lease) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(task_id = %self.lease.task_id, epoch = self.lease.epoch,
                "task dropped unfinished outside a tokio runtime; it returns when the lease lapses");
            return;
        };
        tracing::warn!(task_id = %self.lease.task_id, epoch = self.lease.epoch,
            "task dropped unfinished; handing it back in the background");
        let inner = Arc::clone(&self.inner);
        let lease = self.lease.clone();
        let mut background = lock(&self.inner.background);
        // Reap finished hand-backs so the set only holds running ones.
        while background.try_join_next().is_some() {}
        background.spawn_on(
            async move {
                if let Err(err) = inner.hand_back(&lease).await {
                    tracing::warn!(task_id = %lease.task_id, epoch = lease.epoch, error = %err,
                        "background hand-back failed; the task returns when the lease lapses");
                }
            },
            &runtime,
        );
    }
}
