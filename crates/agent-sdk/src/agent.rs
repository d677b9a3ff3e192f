//! [`Agent`]: the connection to the task-dispatcher, its registration, the
//! heartbeat task that keeps its leases alive, claiming and shutdown.
//!
//! One heartbeat runs at a time (a lock serialises the background loop,
//! [`Agent::heartbeat_now`] and re-registration), so an answer always applies
//! to the leases it was sent with. Nothing queues: the loop sleeps, makes one
//! call with a bounded number of retries, and sleeps again.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use faultline_proto::faultline::dispatch::v1 as proto;
use faultline_proto::faultline::results::v1::result_publisher_client::ResultPublisherClient;
use futures_util::future::join_all;
use proto::task_dispatcher_client::TaskDispatcherClient;
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use crate::backoff::{heartbeat_delay, retry_delay, unit};
use crate::config::AgentConfig;
use crate::error::{Call, Error, ErrorKind};
use crate::lease::{reason, Lease, LeaseSet, Revoked, RevokedBy};
use crate::task::ClaimedTask;

type Client = TaskDispatcherClient<Channel>;
pub(crate) type ResultsClient = ResultPublisherClient<Channel>;

/// Task messages carry the error event; allow large ones.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Used when the dispatcher answers a registration without an interval.
const FALLBACK_HEARTBEAT: Duration = Duration::from_secs(5);

/// Lease timeout, in heartbeat intervals, when the dispatcher gives none.
const FALLBACK_LEASE_INTERVALS: u32 = 3;

/// Where the agent is in its life. Claims stop at `Closing`; the heartbeat
/// loop stops at `Stopped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Closing,
    Stopped,
}

/// The intervals in force: the dispatcher's, or the test override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    pub(crate) heartbeat_interval: Duration,
    pub(crate) lease_timeout: Duration,
}

impl Timing {
    /// From a registration answer; zeros mean "not said" and get fallbacks.
    pub(crate) fn new(heartbeat_ms: u64, lease_ms: u64, over: Option<Duration>) -> Self {
        let server_interval = match heartbeat_ms {
            0 => FALLBACK_HEARTBEAT,
            ms => Duration::from_millis(ms),
        };
        let lease_timeout = match lease_ms {
            0 => server_interval * FALLBACK_LEASE_INTERVALS,
            ms => Duration::from_millis(ms),
        };
        Self {
            heartbeat_interval: over.unwrap_or(server_interval),
            lease_timeout,
        }
    }
}

/// What [`Agent::shutdown`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Tasks the agent held and handed back.
    pub handed_back: usize,
    /// Tasks whose hand-back failed or timed out; their leases lapse after the
    /// lease timeout, or deregistration returns them.
    pub hand_back_failed: usize,
    /// Tasks the dispatcher still counted as this agent's and returned to the
    /// queue when it deregistered.
    pub released_by_deregister: u32,
}

/// A registered agent. Cheap to clone: clones share one connection, one
/// registration and one heartbeat task.
///
/// The heartbeat task stops when [`shutdown`](Agent::shutdown) runs, or soon
/// after the last clone and the last [`ClaimedTask`] are dropped; dropping
/// without `shutdown` leaves the dispatcher to expire the agent.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("agent_id", &self.inner.config.agent_id)
            .field("held", &lock(&self.inner.leases).len())
            .field("state", &*self.inner.state.borrow())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    client: Client,
    results: Option<ResultsClient>,
    pub(crate) config: AgentConfig,
    pub(crate) leases: Mutex<LeaseSet>,
    timing: Mutex<Timing>,
    last_heartbeat_ok: Mutex<Instant>,
    /// Serialises heartbeats and re-registration.
    heartbeat_lock: tokio::sync::Mutex<()>,
    state: watch::Sender<State>,
    /// Asks the heartbeat loop for a round now (a call found the agent
    /// unregistered).
    nudge: Arc<Notify>,
    /// Hand-backs of dropped, unfinished tasks; at most one per lease held, so
    /// at most `max_tasks` at once.
    pub(crate) background: Mutex<JoinSet<()>>,
    heartbeat_task: Mutex<Option<JoinHandle<()>>>,
    /// Serialises shutdowns; holds the report once one succeeded.
    shutdown_done: tokio::sync::Mutex<Option<ShutdownReport>>,
}

/// A std mutex whose holder panicked still guards consistent data here (every
/// critical section is a few map operations), so poisoning is ignored.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn request<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    // Tells the dispatcher when to give up too.
    req.set_timeout(timeout);
    req
}

impl Agent {
    /// Connects to the dispatcher at `endpoint` (`http://host:port`),
    /// registers, and starts heartbeating.
    ///
    /// Fails with [`ErrorKind::InvalidArgument`] for a bad endpoint or agent
    /// id, [`ErrorKind::Unavailable`] when the dispatcher cannot be reached
    /// within [`AgentConfig::connect_timeout`].
    pub async fn connect(endpoint: impl AsRef<str>, config: AgentConfig) -> Result<Self, Error> {
        let config = config.validated()?;
        let endpoint = endpoint.as_ref();
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|err| {
                Error::local(
                    ErrorKind::InvalidArgument,
                    format!("bad endpoint {endpoint:?}: {err}"),
                )
            })?
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|err| Error::connect(endpoint, err))?;
        Self::with_channel(channel, config).await
    }

    /// Like [`connect`](Agent::connect), over a channel the caller built (TLS,
    /// a lazy channel, a custom connector).
    pub async fn with_channel(channel: Channel, config: AgentConfig) -> Result<Self, Error> {
        let config = config.validated()?;
        let client = TaskDispatcherClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let results = match &config.results_endpoint {
            Some(endpoint) => Some(
                ResultPublisherClient::new(
                    Endpoint::from_shared(endpoint.clone())
                        .map_err(|err| {
                            Error::local(
                                ErrorKind::InvalidArgument,
                                format!("bad results endpoint {endpoint:?}: {err}"),
                            )
                        })?
                        .connect_timeout(config.connect_timeout)
                        .tcp_nodelay(true)
                        .connect_lazy(),
                )
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            ),
            None => None,
        };
        let (state, state_rx) = watch::channel(State::Running);
        let nudge = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            client,
            results,
            timing: Mutex::new(Timing::new(0, 0, config.heartbeat_override)),
            config,
            leases: Mutex::new(LeaseSet::default()),
            last_heartbeat_ok: Mutex::new(Instant::now()),
            heartbeat_lock: tokio::sync::Mutex::new(()),
            state,
            nudge: Arc::clone(&nudge),
            background: Mutex::new(JoinSet::new()),
            heartbeat_task: Mutex::new(None),
            shutdown_done: tokio::sync::Mutex::new(None),
        });
        inner.register().await?;
        let handle = tokio::spawn(heartbeat_loop(Arc::downgrade(&inner), state_rx, nudge));
        *lock(&inner.heartbeat_task) = Some(handle);
        Ok(Self { inner })
    }

    /// This agent's id.
    pub fn agent_id(&self) -> &str {
        &self.inner.config.agent_id
    }

    /// The interval the heartbeat task keeps (before jitter).
    pub fn heartbeat_interval(&self) -> Duration {
        lock(&self.inner.timing).heartbeat_interval
    }

    /// How long the dispatcher keeps the agent without a heartbeat.
    pub fn lease_timeout(&self) -> Duration {
        lock(&self.inner.timing).lease_timeout
    }

    /// The leases the agent holds now (what the next heartbeat reports).
    pub fn held(&self) -> Vec<Lease> {
        let mut held = lock(&self.inner.leases).held();
        held.sort_by(|a, b| a.task_id.cmp(&b.task_id));
        held
    }

    /// True once [`shutdown`](Agent::shutdown) has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.inner.state.borrow() != State::Running
    }

    /// Heartbeats now instead of waiting for the next tick, and applies the
    /// answer (revocations reach their holders before this returns). Registers
    /// again first if the dispatcher no longer knows the agent. For tests and
    /// for agents that want to check their leases before a costly step.
    pub async fn heartbeat_now(&self) -> Result<(), Error> {
        if *self.inner.state.borrow() == State::Stopped {
            return Err(shut_down());
        }
        self.inner.heartbeat_round().await
    }

    /// Waits up to `wait` for a task of any type. `Ok(None)`: none came.
    ///
    /// Fails with [`ErrorKind::AtCapacity`] without calling the dispatcher when
    /// the agent already holds `max_tasks` tasks, with [`ErrorKind::Shutdown`]
    /// once shutdown has begun (a claim waiting then returns at once). When the
    /// dispatcher no longer knows the agent, the SDK registers again and
    /// retries once. Other errors are the caller's to retry, with a backoff
    /// when [`Error::is_retryable`].
    pub async fn claim(&self, wait: Duration) -> Result<Option<ClaimedTask>, Error> {
        self.claim_types(wait, std::iter::empty::<String>()).await
    }

    /// Like [`claim`](Agent::claim), for tasks of these types only (none: any).
    pub async fn claim_types<I, S>(
        &self,
        wait: Duration,
        types: I,
    ) -> Result<Option<ClaimedTask>, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let inner = &self.inner;
        let types: Vec<String> = types.into_iter().map(Into::into).collect();
        if *inner.state.borrow() != State::Running {
            return Err(shut_down());
        }
        let held = lock(&inner.leases).len();
        if held >= inner.config.max_tasks as usize {
            return Err(Error::local(
                ErrorKind::AtCapacity,
                format!(
                    "holds {held} of max_tasks {}; finish one first",
                    inner.config.max_tasks
                ),
            ));
        }
        let mut state = inner.state.subscribe();
        let mut registered_again = false;
        let answer = loop {
            let result = tokio::select! {
                biased;
                () = wait_for_state(&mut state, State::Closing) => return Err(shut_down()),
                result = inner.claim_once(wait, &types) => result,
            };
            match result {
                Err(err) if err.kind() == ErrorKind::NotRegistered && !registered_again => {
                    registered_again = true;
                    inner.heartbeat_round().await?;
                }
                other => break other?,
            }
        };
        let Some(task) = answer.task else {
            return Ok(None);
        };
        let lease = Lease {
            task_id: task.id.clone(),
            epoch: answer.epoch,
        };
        // Checked under the lease lock, which shutdown also takes to close:
        // either shutdown sees this lease and hands it back, or we do.
        let revoked = {
            let mut set = lock(&inner.leases);
            (*inner.state.borrow() == State::Running).then(|| set.insert(lease.clone()))
        };
        let Some(revoked) = revoked else {
            if let Err(err) = inner.hand_back(&lease).await {
                tracing::warn!(task_id = %lease.task_id, epoch = lease.epoch, error = %err,
                    "claimed during shutdown and could not hand it back; it returns when the lease lapses");
            }
            return Err(shut_down());
        };
        tracing::info!(
            agent_id = %inner.config.agent_id,
            task_id = %lease.task_id,
            epoch = lease.epoch,
            task_type = %task.r#type,
            attempt = task.attempt,
            "claimed task"
        );
        Ok(Some(ClaimedTask::new(
            Arc::clone(inner),
            task,
            lease,
            answer.attempt_deadline,
            revoked,
        )))
    }

    /// Stops gracefully: stops claiming (a claim waiting returns
    /// [`ErrorKind::Shutdown`]), revokes every held lease with reason
    /// [`reason::SHUTDOWN`] so holders stop, hands those tasks back, waits for
    /// hand-backs of dropped tasks, stops the heartbeat task and deregisters.
    /// Hand-backs get [`AgentConfig::shutdown_timeout`] in all.
    ///
    /// Calling it again is harmless: after a success it returns the same
    /// report; after a failed deregistration it tries that again.
    pub async fn shutdown(&self) -> Result<ShutdownReport, Error> {
        let inner = &self.inner;
        let mut done = inner.shutdown_done.lock().await;
        if let Some(report) = done.as_ref() {
            return Ok(report.clone());
        }
        let deadline = Instant::now() + inner.config.shutdown_timeout;
        let revoked: Vec<Revoked> = {
            let mut set = lock(&inner.leases);
            inner.state.send_if_modified(|s| {
                let was_running = *s == State::Running;
                if was_running {
                    *s = State::Closing;
                }
                was_running
            });
            set.revoke_all(reason::SHUTDOWN, RevokedBy::Agent)
        };
        tracing::info!(agent_id = %inner.config.agent_id, held = revoked.len(),
            "shutting down: handing tasks back");

        let mut report = ShutdownReport::default();
        let hand_backs = join_all(revoked.iter().map(|r| inner.hand_back(&r.lease)));
        match tokio::time::timeout_at(deadline, hand_backs).await {
            Ok(results) => {
                for (r, result) in revoked.iter().zip(results) {
                    match result {
                        Ok(()) => report.handed_back += 1,
                        Err(err) => {
                            report.hand_back_failed += 1;
                            tracing::warn!(task_id = %r.lease.task_id, epoch = r.lease.epoch,
                                error = %err, "hand-back failed");
                        }
                    }
                }
            }
            Err(_) => {
                report.hand_back_failed = revoked.len();
                tracing::warn!("hand-backs did not finish within the shutdown timeout");
            }
        }

        let mut background = std::mem::take(&mut *lock(&inner.background));
        let drained = tokio::time::timeout_at(deadline, async {
            while background.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("background hand-backs did not finish within the shutdown timeout");
        }

        inner.state.send_replace(State::Stopped);
        let heartbeat = lock(&inner.heartbeat_task).take();
        if let Some(handle) = heartbeat {
            // A round in flight has nothing worth finishing.
            handle.abort();
            let _ = handle.await;
        }

        let message = proto::DeregisterAgentRequest {
            agent_id: inner.config.agent_id.clone(),
        };
        match inner
            .call(
                "deregister",
                Call::Deregister,
                inner.config.max_retries,
                inner.config.request_timeout,
                |mut c, t| {
                    let req = request(message.clone(), t);
                    async move { c.deregister_agent(req).await }
                },
            )
            .await
        {
            Ok(answer) => report.released_by_deregister = answer.handed_back,
            // Expired already: nothing left to deregister.
            Err(err) if err.kind() == ErrorKind::NotRegistered => {}
            Err(err) => return Err(err),
        }
        tracing::info!(agent_id = %inner.config.agent_id, handed_back = report.handed_back,
            hand_back_failed = report.hand_back_failed,
            released_by_deregister = report.released_by_deregister, "deregistered");
        *done = Some(report.clone());
        Ok(report)
    }
}

fn shut_down() -> Error {
    Error::local(ErrorKind::Shutdown, "the agent is shutting down")
}

/// Returns once the state reaches `at_least` (or the agent is gone).
async fn wait_for_state(rx: &mut watch::Receiver<State>, at_least: State) {
    let rank = |s: State| s as u8;
    let _ = rx.wait_for(|s| rank(*s) >= rank(at_least)).await;
}

async fn heartbeat_loop(inner: Weak<Inner>, mut state: watch::Receiver<State>, nudge: Arc<Notify>) {
    loop {
        let Some(interval) = inner.upgrade().map(|i| lock(&i.timing).heartbeat_interval) else {
            return;
        };
        tokio::select! {
            biased;
            () = wait_for_state(&mut state, State::Stopped) => return,
            () = nudge.notified() => {}
            () = tokio::time::sleep(heartbeat_delay(interval, unit())) => {}
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if let Err(err) = inner.heartbeat_round().await {
            tracing::warn!(agent_id = %inner.config.agent_id, error = %err, "heartbeat failed");
        }
    }
}

impl Inner {
    /// One call with up to `retries` retries after `UNAVAILABLE` (the
    /// dispatcher did not take the call, so repeating it is safe). A timeout
    /// is not retried here: the call may have landed.
    async fn call<T, F, Fut>(
        &self,
        what: &'static str,
        kind: Call,
        retries: u32,
        timeout: Duration,
        f: F,
    ) -> Result<T, Error>
    where
        F: FnMut(Client, Duration) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.call_on(&self.client, what, kind, retries, timeout, f)
            .await
    }

    /// [`call`](Self::call) on another service's client.
    async fn call_on<C, T, F, Fut>(
        &self,
        client: &C,
        what: &'static str,
        kind: Call,
        retries: u32,
        timeout: Duration,
        mut f: F,
    ) -> Result<T, Error>
    where
        C: Clone,
        F: FnMut(C, Duration) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut attempt = 0;
        loop {
            let err = match tokio::time::timeout(timeout, f(client.clone(), timeout)).await {
                Ok(Ok(answer)) => return Ok(answer.into_inner()),
                Ok(Err(status)) => Error::from_status(status, kind),
                Err(_) => Error::timeout(what, timeout),
            };
            if err.code() != Some(Code::Unavailable) || attempt >= retries {
                return Err(err);
            }
            let delay = retry_delay(
                attempt,
                self.config.retry_base,
                self.config.retry_cap,
                unit(),
            );
            tracing::debug!(call = what, attempt, ?delay, error = %err, "retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn register(&self) -> Result<(), Error> {
        let c = &self.config;
        let message = proto::RegisterAgentRequest {
            agent_id: c.agent_id.clone(),
            name: c.name.clone(),
            capabilities: c.capabilities.clone(),
            max_tasks: c.max_tasks,
        };
        let answer = self
            .call(
                "register",
                Call::Register,
                c.max_retries,
                c.request_timeout,
                |mut client, t| {
                    let req = request(message.clone(), t);
                    async move { client.register_agent(req).await }
                },
            )
            .await?;
        let timing = Timing::new(
            answer.heartbeat_interval_ms,
            answer.lease_timeout_ms,
            c.heartbeat_override,
        );
        *lock(&self.timing) = timing;
        *lock(&self.last_heartbeat_ok) = Instant::now();
        tracing::info!(
            agent_id = %c.agent_id,
            heartbeat_interval_ms = timing.heartbeat_interval.as_millis(),
            lease_timeout_ms = timing.lease_timeout.as_millis(),
            "registered with the task-dispatcher"
        );
        Ok(())
    }

    /// One heartbeat, registering again if the dispatcher forgot the agent.
    /// When none has got through for a whole lease timeout, every lease is
    /// revoked locally: the dispatcher has handed those tasks on by now.
    pub(crate) async fn heartbeat_round(&self) -> Result<(), Error> {
        let _one_at_a_time = self.heartbeat_lock.lock().await;
        let result = match self.heartbeat_once().await {
            Err(err) if err.kind() == ErrorKind::NotRegistered => {
                tracing::warn!(agent_id = %self.config.agent_id,
                    "the dispatcher does not know this agent; registering again");
                match self.register().await {
                    Ok(()) => self.heartbeat_once().await,
                    Err(err) => Err(err),
                }
            }
            other => other,
        };
        match &result {
            Ok(()) => *lock(&self.last_heartbeat_ok) = Instant::now(),
            Err(_) => {
                let silent = lock(&self.last_heartbeat_ok).elapsed();
                let lease_timeout = lock(&self.timing).lease_timeout;
                if silent >= lease_timeout {
                    let lost =
                        lock(&self.leases).revoke_all(reason::HEARTBEAT_EXPIRED, RevokedBy::Agent);
                    if !lost.is_empty() {
                        tracing::warn!(agent_id = %self.config.agent_id, lost = lost.len(),
                            ?silent, "no heartbeat got through for a lease timeout; leases revoked");
                    }
                }
            }
        }
        result
    }

    async fn heartbeat_once(&self) -> Result<(), Error> {
        let sent = lock(&self.leases).held();
        let message = proto::HeartbeatRequest {
            agent_id: self.config.agent_id.clone(),
            held: sent.iter().map(Lease::to_proto).collect(),
        };
        let answer = self
            .call(
                "heartbeat",
                Call::Heartbeat,
                self.config.max_retries,
                self.config.request_timeout,
                |mut c, t| {
                    let req = request(message.clone(), t);
                    async move { c.heartbeat(req).await }
                },
            )
            .await?;
        let revoked = lock(&self.leases).apply_heartbeat(&sent, &answer.held, &answer.revoked);
        for r in revoked {
            tracing::warn!(agent_id = %self.config.agent_id, task_id = %r.lease.task_id,
                epoch = r.lease.epoch, reason = %r.reason, "lease revoked");
        }
        Ok(())
    }

    async fn claim_once(
        &self,
        wait: Duration,
        types: &[String],
    ) -> Result<proto::ClaimResponse, Error> {
        let message = proto::ClaimRequest {
            agent_id: self.config.agent_id.clone(),
            wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            types: types.to_vec(),
        };
        let timeout = wait.saturating_add(self.config.request_timeout);
        // Not retried here: a lost answer may hold a task, and the caller's
        // loop is the place to wait and try again.
        self.call("claim", Call::Claim, 0, timeout, |mut c, t| {
            let req = request(message.clone(), t);
            async move { c.claim(req).await }
        })
        .await
    }

    /// A call on a lease. A stale answer revokes the lease locally, so the
    /// holder's [`ClaimedTask::cancelled`] fires; an unregistered agent
    /// registers again and the call is made once more.
    pub(crate) async fn leased<T, F, Fut>(
        &self,
        what: &'static str,
        lease: &Lease,
        f: F,
    ) -> Result<T, Error>
    where
        F: FnMut(Client, Duration) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.leased_on(&self.client, what, lease, f).await
    }

    /// The result-publisher's client, if the agent was given its endpoint.
    pub(crate) fn results(&self) -> Result<&ResultsClient, Error> {
        self.results.as_ref().ok_or_else(|| {
            Error::local(
                ErrorKind::InvalidArgument,
                "no result-publisher endpoint: set AgentConfig::results_endpoint",
            )
        })
    }

    /// [`leased`](Self::leased) on another service's client.
    pub(crate) async fn leased_on<C, T, F, Fut>(
        &self,
        client: &C,
        what: &'static str,
        lease: &Lease,
        mut f: F,
    ) -> Result<T, Error>
    where
        C: Clone,
        F: FnMut(C, Duration) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let (retries, timeout) = (self.config.max_retries, self.config.request_timeout);
        let mut result = self
            .call_on(client, what, Call::Leased, retries, timeout, &mut f)
            .await;
        if matches!(&result, Err(err) if err.kind() == ErrorKind::NotRegistered) {
            if let Err(err) = self.heartbeat_round().await {
                tracing::warn!(error = %err, "could not register again");
                self.nudge.notify_one();
            } else {
                result = self
                    .call_on(client, what, Call::Leased, retries, timeout, &mut f)
                    .await;
            }
        }
        if let Err(err) = &result {
            if err.kind() == ErrorKind::StaleLease {
                let revoked =
                    lock(&self.leases).revoke(lease, reason::STALE_LEASE, RevokedBy::Agent);
                if revoked.is_some() {
                    tracing::warn!(task_id = %lease.task_id, epoch = lease.epoch, call = what,
                        error = %err, "lease is stale; stop working on the task");
                }
            }
        }
        result
    }

    pub(crate) async fn hand_back(&self, lease: &Lease) -> Result<(), Error> {
        let message = proto::HandBackRequest {
            lease: Some(lease.to_proto()),
            agent_id: self.config.agent_id.clone(),
        };
        self.leased("hand_back", lease, |mut c, t| {
            let req = request(message.clone(), t);
            async move { c.hand_back(req).await }
        })
        .await?;
        tracing::info!(task_id = %lease.task_id, epoch = lease.epoch, "handed task back");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_uses_the_server_values() {
        let t = Timing::new(2_000, 9_000, None);
        assert_eq!(t.heartbeat_interval, Duration::from_secs(2));
        assert_eq!(t.lease_timeout, Duration::from_secs(9));
    }

    #[test]
    fn timing_override_changes_only_the_interval() {
        let t = Timing::new(2_000, 9_000, Some(Duration::from_millis(50)));
        assert_eq!(t.heartbeat_interval, Duration::from_millis(50));
        assert_eq!(t.lease_timeout, Duration::from_secs(9));
    }

    #[test]
    fn timing_falls_back_when_the_server_says_nothing() {
        let t = Timing::new(0, 0, None);
        assert_eq!(t.heartbeat_interval, FALLBACK_HEARTBEAT);
        assert_eq!(t.lease_timeout, FALLBACK_HEARTBEAT * 3);
        let t = Timing::new(1_000, 0, None);
        assert_eq!(t.lease_timeout, Duration::from_secs(3));
    }

    #[test]
    fn states_are_ordered() {
        assert!((State::Running as u8) < (State::Closing as u8));
        assert!((State::Closing as u8) < (State::Stopped as u8));
    }

    #[tokio::test]
    async fn connect_rejects_bad_input_before_any_io() {
        let config = AgentConfig {
            agent_id: "bad id".into(),
            ..Default::default()
        };
        let err = Agent::connect("http://127.0.0.1:1", config)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);

        let config = AgentConfig {
            agent_id: "a1".into(),
            ..Default::default()
        };
        let err = Agent::connect("not a uri\n", config).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }

    #[tokio::test]
    async fn connect_to_nothing_is_unavailable() {
        // Port 1 on loopback: refused at once on any sane machine.
        let config = AgentConfig {
            agent_id: "a1".into(),
            connect_timeout: Duration::from_secs(2),
            ..Default::default()
        };
        let err = Agent::connect("http://127.0.0.1:1", config)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.is_retryable());
    }
}
