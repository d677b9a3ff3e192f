//! The SDK against a scripted in-process dispatcher: what it sends, and how it
//! reacts to revocations, stale leases, a forgotten registration and shutdown.
//! The real dispatcher's own behaviour is tested in the workspace's `tests/`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_agent::proto::task_dispatcher_server::{TaskDispatcher, TaskDispatcherServer};
use faultline_agent::proto::*;
use faultline_agent::{reason, Agent, AgentConfig, ErrorKind, RevokedBy};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

#[derive(Debug, Default)]
struct State {
    registrations: u32,
    deregistrations: u32,
    heartbeats: Vec<HeartbeatRequest>,
    queue: VecDeque<Task>,
    next_epoch: u64,
    /// Leases out, as the dispatcher sees them.
    out: Vec<Lease>,
    /// Revocations for the next heartbeat.
    revoke: Vec<Revocation>,
    /// The next heartbeat (or claim) says "not registered".
    forget_agent: bool,
    /// Leased calls answer FAILED_PRECONDITION (stale).
    stale: bool,
    progress: Vec<String>,
    completed: Vec<(Lease, String)>,
    failed: Vec<FailRequest>,
    handed_back: Vec<Lease>,
}

#[derive(Debug, Clone, Default)]
struct Fake(Arc<Mutex<State>>);

impl Fake {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    fn push_task(&self, id: &str) {
        self.state().queue.push_back(Task {
            id: id.into(),
            r#type: "investigation".into(),
            fingerprint: "v1:abc".into(),
            context_json: r#"{"event":{"error":"KeyError: user_id"}}"#.into(),
            attempt: 1,
            ..Default::default()
        });
    }

    fn leased(&self, lease: Option<Lease>) -> Result<Lease, Status> {
        let lease = lease.ok_or_else(|| Status::invalid_argument("no lease"))?;
        let mut s = self.state();
        if s.stale || !s.out.contains(&lease) {
            return Err(Status::failed_precondition("stale lease"));
        }
        s.out.retain(|l| l != &lease);
        Ok(lease)
    }
}

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not in the fake"))
}

#[tonic::async_trait]
impl TaskDispatcher for Fake {
    async fn register_agent(
        &self,
        request: Request<RegisterAgentRequest>,
    ) -> Result<Response<RegisterAgentResponse>, Status> {
        let mut s = self.state();
        s.registrations += 1;
        s.forget_agent = false;
        Ok(Response::new(RegisterAgentResponse {
            agent_id: request.into_inner().agent_id,
            heartbeat_interval_ms: 60_000,
            lease_timeout_ms: 180_000,
        }))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let request = request.into_inner();
        let mut s = self.state();
        if s.forget_agent {
            return Err(Status::failed_precondition("agent a1 not registered"));
        }
        let revoked = std::mem::take(&mut s.revoke);
        let held = request
            .held
            .iter()
            .filter(|l| !revoked.iter().any(|r| r.task_id == l.task_id))
            .cloned()
            .collect();
        s.out
            .retain(|l| !revoked.iter().any(|r| r.task_id == l.task_id));
        s.heartbeats.push(request);
        Ok(Response::new(HeartbeatResponse { held, revoked }))
    }

    async fn deregister_agent(
        &self,
        _: Request<DeregisterAgentRequest>,
    ) -> Result<Response<DeregisterAgentResponse>, Status> {
        let mut s = self.state();
        s.deregistrations += 1;
        let handed_back = u32::try_from(s.out.len()).unwrap();
        s.out.clear();
        Ok(Response::new(DeregisterAgentResponse { handed_back }))
    }

    async fn list_agents(
        &self,
        _: Request<ListAgentsRequest>,
    ) -> Result<Response<ListAgentsResponse>, Status> {
        unimplemented()
    }

    async fn claim(
        &self,
        request: Request<ClaimRequest>,
    ) -> Result<Response<ClaimResponse>, Status> {
        let wait = Duration::from_millis(request.get_ref().wait_ms);
        let task = {
            let mut s = self.state();
            if s.forget_agent {
                return Err(Status::failed_precondition("agent a1 not registered"));
            }
            s.queue.pop_front()
        };
        let Some(task) = task else {
            tokio::time::sleep(wait).await;
            return Ok(Response::new(ClaimResponse::default()));
        };
        let mut s = self.state();
        s.next_epoch += 1;
        let epoch = s.next_epoch;
        s.out.push(Lease {
            task_id: task.id.clone(),
            epoch,
        });
        Ok(Response::new(ClaimResponse {
            task: Some(task),
            epoch,
            attempt_deadline: "2030-01-01T00:00:00Z".into(),
        }))
    }

    async fn progress(
        &self,
        request: Request<ProgressRequest>,
    ) -> Result<Response<ProgressResponse>, Status> {
        let request = request.into_inner();
        let mut s = self.state();
        let held = request.lease.as_ref().is_some_and(|l| s.out.contains(l));
        if s.stale || !held {
            return Err(Status::failed_precondition("stale lease"));
        }
        s.progress.push(request.message);
        Ok(Response::new(ProgressResponse {}))
    }

    async fn complete(
        &self,
        request: Request<CompleteRequest>,
    ) -> Result<Response<CompleteResponse>, Status> {
        let request = request.into_inner();
        let lease = self.leased(request.lease)?;
        self.state()
            .completed
            .push((lease, request.result_json.clone()));
        Ok(Response::new(CompleteResponse {
            released: vec!["t-next".into()],
            already: false,
            result_json: request.result_json,
        }))
    }

    async fn fail(&self, request: Request<FailRequest>) -> Result<Response<FailResponse>, Status> {
        let request = request.into_inner();
        self.leased(request.lease.clone())?;
        let permanent = request.permanent;
        self.state().failed.push(request);
        Ok(Response::new(FailResponse {
            state: if permanent { "dead" } else { "retrying" }.into(),
            ..Default::default()
        }))
    }

    async fn hand_back(
        &self,
        request: Request<HandBackRequest>,
    ) -> Result<Response<HandBackResponse>, Status> {
        let lease = self.leased(request.into_inner().lease)?;
        self.state().handed_back.push(lease);
        Ok(Response::new(HandBackResponse {}))
    }

    async fn submit_task(
        &self,
        _: Request<SubmitTaskRequest>,
    ) -> Result<Response<SubmitTaskResponse>, Status> {
        unimplemented()
    }

    async fn submit_job(
        &self,
        _: Request<SubmitJobRequest>,
    ) -> Result<Response<SubmitJobResponse>, Status> {
        unimplemented()
    }

    async fn cancel_task(
        &self,
        _: Request<CancelTaskRequest>,
    ) -> Result<Response<CancelTaskResponse>, Status> {
        unimplemented()
    }

    async fn get_task(&self, _: Request<GetTaskRequest>) -> Result<Response<TaskStatus>, Status> {
        unimplemented()
    }

    async fn list_tasks(
        &self,
        _: Request<ListTasksRequest>,
    ) -> Result<Response<ListTasksResponse>, Status> {
        unimplemented()
    }

    async fn get_job(&self, _: Request<GetJobRequest>) -> Result<Response<JobStatus>, Status> {
        unimplemented()
    }

    async fn list_dead_letters(
        &self,
        _: Request<ListDeadLettersRequest>,
    ) -> Result<Response<ListDeadLettersResponse>, Status> {
        unimplemented()
    }

    async fn get_dead_letter(
        &self,
        _: Request<GetDeadLetterRequest>,
    ) -> Result<Response<DeadLetter>, Status> {
        unimplemented()
    }

    async fn replay_dead_letter(
        &self,
        _: Request<ReplayDeadLetterRequest>,
    ) -> Result<Response<ReplayDeadLetterResponse>, Status> {
        unimplemented()
    }

    async fn clear_fingerprint(
        &self,
        _: Request<ClearFingerprintRequest>,
    ) -> Result<Response<ClearFingerprintResponse>, Status> {
        unimplemented()
    }

    async fn post_message(
        &self,
        _: Request<PostMessageRequest>,
    ) -> Result<Response<CoordinationMessage>, Status> {
        unimplemented()
    }

    async fn list_messages(
        &self,
        _: Request<ListMessagesRequest>,
    ) -> Result<Response<ListMessagesResponse>, Status> {
        unimplemented()
    }
}

/// Serves the fake on a free port; the server stops with the test's runtime.
async fn serve(fake: &Fake) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = TaskDispatcherServer::new(fake.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}

fn config(max_tasks: u32) -> AgentConfig {
    AgentConfig {
        agent_id: "a1".into(),
        name: "test agent".into(),
        capabilities: vec!["investigation".into()],
        max_tasks,
        ..Default::default()
    }
}

async fn agent(fake: &Fake, max_tasks: u32) -> Agent {
    let endpoint = serve(fake).await;
    Agent::connect(endpoint, config(max_tasks)).await.unwrap()
}

const NO_WAIT: Duration = Duration::from_millis(0);

#[tokio::test]
async fn claim_progress_complete() {
    let fake = Fake::default();
    fake.push_task("t1");
    let agent = agent(&fake, 1).await;
    assert_eq!(fake.state().registrations, 1);
    assert_eq!(agent.heartbeat_interval(), Duration::from_secs(60));
    assert_eq!(agent.lease_timeout(), Duration::from_secs(180));

    let task = agent.claim(NO_WAIT).await.unwrap().expect("a task");
    assert_eq!(task.task().id, "t1");
    assert_eq!(task.lease().epoch, 1);
    assert_eq!(task.attempt_deadline(), "2030-01-01T00:00:00Z");
    assert_eq!(agent.held(), [task.lease().clone()]);

    // At capacity: refused locally, the dispatcher's queue untouched.
    fake.push_task("t2");
    let err = agent.claim(NO_WAIT).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AtCapacity);
    assert_eq!(fake.state().queue.len(), 1);

    // Heartbeats report the lease.
    agent.heartbeat_now().await.unwrap();
    assert_eq!(fake.state().heartbeats[0].held.len(), 1);

    task.progress("halfway").await.unwrap();
    let released = task.complete(r#"{"outcome":"fixed"}"#).await.unwrap();
    assert_eq!(released, ["t-next"]);
    assert!(agent.held().is_empty());
    {
        let s = fake.state();
        assert_eq!(s.progress, ["halfway"]);
        assert_eq!(s.completed[0].1, r#"{"outcome":"fixed"}"#);
    }

    let report = agent.shutdown().await.unwrap();
    assert_eq!(report.handed_back, 0);
    assert_eq!(fake.state().deregistrations, 1);
    // A second shutdown is a no-op.
    assert_eq!(agent.shutdown().await.unwrap(), report);
    assert_eq!(fake.state().deregistrations, 1);
}

#[tokio::test]
async fn no_task_is_none() {
    let fake = Fake::default();
    let agent = agent(&fake, 1).await;
    assert!(agent
        .claim(Duration::from_millis(20))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_revocation_in_a_heartbeat_reaches_the_holder() {
    let fake = Fake::default();
    fake.push_task("t1");
    let agent = agent(&fake, 1).await;
    let task = agent.claim(NO_WAIT).await.unwrap().unwrap();
    assert!(!task.is_cancelled());
    fake.state().revoke.push(Revocation {
        task_id: "t1".into(),
        epoch: task.lease().epoch,
        reason: reason::CANCELLED.into(),
    });
    agent.heartbeat_now().await.unwrap();
    let revoked = tokio::time::timeout(Duration::from_secs(1), task.cancelled())
        .await
        .expect("cancelled() resolves");
    assert_eq!(revoked.reason, "cancelled");
    assert_eq!(revoked.by, RevokedBy::Dispatcher);
    assert!(task.is_cancelled());
    assert!(agent.held().is_empty());

    // Nothing to hand back for a revoked lease.
    drop(task);
    agent.shutdown().await.unwrap();
    assert!(fake.state().handed_back.is_empty());
}

#[tokio::test]
async fn the_background_heartbeat_runs_at_the_override() {
    let fake = Fake::default();
    let endpoint = serve(&fake).await;
    let config = AgentConfig {
        heartbeat_override: Some(Duration::from_millis(20)),
        ..config(1)
    };
    let agent = Agent::connect(endpoint, config).await.unwrap();
    assert_eq!(agent.heartbeat_interval(), Duration::from_millis(20));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while fake.state().heartbeats.len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "no heartbeats");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    agent.shutdown().await.unwrap();
    let after = fake.state().heartbeats.len();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        fake.state().heartbeats.len(),
        after,
        "heartbeats stop at shutdown"
    );
}

#[tokio::test]
async fn a_forgotten_agent_registers_again() {
    let fake = Fake::default();
    let agent = agent(&fake, 1).await;
    fake.state().forget_agent = true;
    agent.heartbeat_now().await.unwrap();
    assert_eq!(fake.state().registrations, 2);
    assert_eq!(fake.state().heartbeats.len(), 1);

    // A claim that finds the agent forgotten registers and claims again.
    fake.push_task("t1");
    fake.state().forget_agent = true;
    let task = agent
        .claim(NO_WAIT)
        .await
        .unwrap()
        .expect("claimed after registering again");
    assert_eq!(task.task().id, "t1");
    assert_eq!(fake.state().registrations, 3);
    task.complete("{}").await.unwrap();
}

#[tokio::test]
async fn a_stale_lease_is_reported_and_revoked() {
    let fake = Fake::default();
    fake.push_task("t1");
    fake.push_task("t2");
    let agent = agent(&fake, 2).await;
    let t1 = agent.claim(NO_WAIT).await.unwrap().unwrap();
    let t2 = agent.claim(NO_WAIT).await.unwrap().unwrap();
    fake.state().stale = true;

    let err = t1.progress("x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StaleLease);
    assert!(!err.is_retryable());
    let revoked = t1.cancelled().await;
    assert_eq!(revoked.reason, reason::STALE_LEASE);
    assert_eq!(revoked.by, RevokedBy::Agent);

    let err = t2.complete("{}").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StaleLease);
    assert!(agent.held().is_empty());
    drop(t1);
    agent.shutdown().await.unwrap();
    assert!(fake.state().handed_back.is_empty());
}

#[tokio::test]
async fn fail_retryable_and_permanent() {
    let fake = Fake::default();
    fake.push_task("t1");
    fake.push_task("t2");
    let agent = agent(&fake, 2).await;
    let t1 = agent.claim(NO_WAIT).await.unwrap().unwrap();
    let t2 = agent.claim(NO_WAIT).await.unwrap().unwrap();
    let a = t1
        .fail_retryable("flaky", Some(Duration::from_secs(3)))
        .await
        .unwrap();
    assert_eq!(a.state, "retrying");
    let b = t2.fail_permanent("cannot be done").await.unwrap();
    assert_eq!(b.state, "dead");
    let s = fake.state();
    assert_eq!(s.failed[0].retry_after_ms, 3000);
    assert!(!s.failed[0].permanent);
    assert!(s.failed[1].permanent);
    assert_eq!(s.failed[1].error, "cannot be done");
}

#[tokio::test]
async fn a_dropped_task_is_handed_back() {
    let fake = Fake::default();
    fake.push_task("t1");
    let agent = agent(&fake, 1).await;
    let task = agent.claim(NO_WAIT).await.unwrap().unwrap();
    let lease = task.lease().clone();
    drop(task);
    assert!(agent.held().is_empty());
    // Shutdown waits for the background hand-back.
    agent.shutdown().await.unwrap();
    let s = fake.state();
    assert_eq!(s.handed_back.len(), 1);
    assert_eq!(s.handed_back[0].task_id, lease.task_id);
    assert_eq!(s.handed_back[0].epoch, lease.epoch);
}

#[tokio::test]
async fn shutdown_hands_back_held_tasks_and_stops_claims() {
    let fake = Fake::default();
    fake.push_task("t1");
    let agent = agent(&fake, 2).await;
    let task = agent.claim(NO_WAIT).await.unwrap().unwrap();

    // A claim waiting a long time returns as soon as shutdown starts.
    let waiting = {
        let agent = agent.clone();
        tokio::spawn(async move { agent.claim(Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;

    let report = tokio::time::timeout(Duration::from_secs(5), agent.shutdown())
        .await
        .expect("shutdown is prompt")
        .unwrap();
    assert_eq!(report.handed_back, 1);
    assert_eq!(report.hand_back_failed, 0);
    assert!(agent.is_shutting_down());

    let revoked = task.cancelled().await;
    assert_eq!(revoked.reason, reason::SHUTDOWN);
    let err = tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .expect("the waiting claim returns")
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Shutdown);
    assert_eq!(
        agent.claim(NO_WAIT).await.unwrap_err().kind(),
        ErrorKind::Shutdown
    );
    // The handle's lease is gone: finishing now is refused by the dispatcher.
    let err = task.complete("{}").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StaleLease);
    let s = fake.state();
    assert_eq!(s.handed_back.len(), 1);
    assert_eq!(s.deregistrations, 1);
}
