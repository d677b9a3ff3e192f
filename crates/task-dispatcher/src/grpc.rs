//! The gRPC API (`faultline.dispatch.v1.TaskDispatcher`).

use std::time::Duration;

use faultline_proto::faultline::dispatch::v1 as pb;
use pb::task_dispatcher_server::TaskDispatcher;
use serde_json::Value;
use tonic::{Request, Response, Status};

use crate::coordination::Post;
use crate::deadletters::DeadLetter;
use crate::dispatcher::{Dispatcher, Submission};
use crate::error::DispatchError;
use crate::jobs::JobView;
use crate::record::{rfc3339, AgentRecord, State, TaskRecord};

/// The gRPC face of a [`Dispatcher`].
#[derive(Debug, Clone)]
pub struct GrpcDispatcher(pub Dispatcher);

fn lease(l: Option<pb::Lease>) -> Result<pb::Lease, Status> {
    l.filter(|l| !l.task_id.is_empty())
        .ok_or_else(|| Status::invalid_argument("lease (task_id, epoch) is required"))
}

fn json_text(s: &str, what: &str) -> Result<Value, Status> {
    if s.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(s)
        .map_err(|e| Status::invalid_argument(format!("{what} is not JSON: {e}")))
}

/// The task as an agent receives it.
pub fn task_pb(rec: &TaskRecord, previous_result: Option<&Value>) -> pb::Task {
    let t = &rec.task;
    pb::Task {
        id: t.id.clone(),
        r#type: t.kind.clone(),
        priority: u32::from(t.priority),
        description: t.description.clone(),
        context_json: serde_json::to_string(&t.context).unwrap_or_default(),
        required_capabilities: t.required_capabilities.clone(),
        blocked_by: t.blocked_by.clone(),
        job_id: t.job_id.clone().unwrap_or_default(),
        fingerprint: t.fingerprint.clone().unwrap_or_default(),
        attempt: rec.attempt,
        created_at: t.created_at.clone(),
        regression_of: rec.regression_of.clone().unwrap_or_default(),
        previous_result_json: previous_result.map(Value::to_string).unwrap_or_default(),
        occurrences: rec.occurrences,
        filter_decision: t
            .context
            .filter
            .as_ref()
            .map(|f| f.decision.clone())
            .unwrap_or_default(),
        task_json: serde_json::to_string(t).unwrap_or_default(),
    }
}

/// A task's status.
pub fn status_pb(rec: &TaskRecord) -> pb::TaskStatus {
    pb::TaskStatus {
        task_id: rec.task.id.clone(),
        r#type: rec.task.kind.clone(),
        state: rec.state.as_str().into(),
        priority: u32::from(rec.task.priority),
        epoch: rec.epoch,
        agent_id: rec.agent.clone().unwrap_or_default(),
        attempt: rec.attempt,
        job_id: rec.task.job_id.clone().unwrap_or_default(),
        fingerprint: rec.task.fingerprint.clone().unwrap_or_default(),
        blocked_by: rec.task.blocked_by.clone(),
        last_error: rec.last_error.clone().unwrap_or_default(),
        holders: rec.holders.clone(),
        occurrences: rec.occurrences,
        attached_to: rec.attached_to.clone().unwrap_or_default(),
        regression_of: rec.regression_of.clone().unwrap_or_default(),
        dead_letter_id: rec.dead_letter.unwrap_or(0),
        result_json: rec
            .result
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default(),
        updated_at: rfc3339(rec.updated),
        created_at: rec.task.created_at.clone(),
        progress: rec.progress.clone().unwrap_or_default(),
    }
}

fn agent_pb(a: &AgentRecord, held: Vec<pb::Lease>, ttl: Duration) -> pb::Agent {
    pb::Agent {
        agent_id: a.id.clone(),
        name: a.name.clone(),
        capabilities: a.capabilities.iter().cloned().collect(),
        max_tasks: a.max_tasks,
        held,
        registered_at: rfc3339(a.registered_at),
        last_heartbeat: rfc3339(a.heartbeat_at),
        expires_at: rfc3339(a.heartbeat_at + crate::dispatcher::dur_ms(ttl)),
    }
}

fn dead_pb(d: &DeadLetter) -> pb::DeadLetter {
    let r = &d.record;
    pb::DeadLetter {
        id: d.id,
        task_id: r.task.id.clone(),
        r#type: r.task.kind.clone(),
        reason: r.reason.clone(),
        attempts: r.attempts,
        last_error: r.last_error.clone().unwrap_or_default(),
        holders: r.holders.clone(),
        fingerprint: r.fingerprint.clone().unwrap_or_default(),
        dead_at: r.dead_at.clone(),
        replays: d.replays,
        task_json: serde_json::to_string(&r.task).unwrap_or_default(),
    }
}

fn job_pb(j: JobView) -> pb::JobStatus {
    pb::JobStatus {
        job_id: j.job_id,
        total: j.total,
        done: j.done,
        failed: j.failed,
        dead: j.dead,
        in_flight: j.in_flight,
        waiting: j.waiting,
        cancelled: j.cancelled,
        stalled: j.stalled,
        eta_seconds: j.eta_seconds,
        finished: j.finished,
    }
}

fn post_pb(p: Post) -> pb::CoordinationMessage {
    pb::CoordinationMessage {
        id: p.id,
        from: p.from,
        text: p.text,
        mentions: p.mentions,
        posted_at: p.posted_at,
        filter_decision: p.filter_decision,
    }
}

fn spec(s: pb::TaskSpec) -> Result<Submission, Status> {
    Ok(Submission {
        id: (!s.id.is_empty()).then_some(s.id),
        kind: s.r#type,
        priority: u8::try_from(s.priority)
            .map_err(|_| Status::invalid_argument("priority is out of range 0 to 9"))?,
        description: s.description,
        context: json_text(&s.context_json, "context_json")?,
        required_capabilities: s.required_capabilities,
        blocked_by: s.blocked_by,
        fingerprint: (!s.fingerprint.is_empty()).then_some(s.fingerprint),
    })
}

/// Filters for listing tasks.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// State name.
    pub state: Option<String>,
    /// Type.
    pub kind: Option<String>,
    /// Holding agent.
    pub agent: Option<String>,
    /// Job.
    pub job: Option<String>,
    /// Fingerprint.
    pub fingerprint: Option<String>,
}

/// Lists tasks from the mirror: newest first, `offset`/`limit` paginated.
pub fn list_tasks(
    d: &Dispatcher,
    f: &TaskFilter,
    offset: usize,
    limit: usize,
) -> Result<(Vec<TaskRecord>, usize), DispatchError> {
    let state = match &f.state {
        Some(s) if !s.is_empty() => Some(
            State::parse(s)
                .ok_or_else(|| DispatchError::InvalidArgument(format!("unknown state {s:?}")))?,
        ),
        _ => None,
    };
    let nonempty = |o: &Option<String>| o.clone().filter(|s| !s.is_empty());
    let (kind, agent, job, fp) = (
        nonempty(&f.kind),
        nonempty(&f.agent),
        nonempty(&f.job),
        nonempty(&f.fingerprint),
    );
    let mut all: Vec<TaskRecord> = d
        .mirror()
        .select(|r| {
            state.is_none_or(|s| r.state == s)
                && kind.as_ref().is_none_or(|k| &r.task.kind == k)
                && agent.as_ref().is_none_or(|a| r.agent.as_ref() == Some(a))
                && job
                    .as_ref()
                    .is_none_or(|j| r.task.job_id.as_ref() == Some(j))
                && fp
                    .as_ref()
                    .is_none_or(|x| r.task.fingerprint.as_ref() == Some(x))
        })
        .into_iter()
        .map(|v| v.value)
        .collect();
    all.sort_by(|a, b| b.created.cmp(&a.created).then(a.task.id.cmp(&b.task.id)));
    let total = all.len();
    let page = all
        .into_iter()
        .skip(offset)
        .take(limit.clamp(1, 1000))
        .collect();
    Ok((page, total))
}

#[tonic::async_trait]
impl TaskDispatcher for GrpcDispatcher {
    async fn register_agent(
        &self,
        req: Request<pb::RegisterAgentRequest>,
    ) -> Result<Response<pb::RegisterAgentResponse>, Status> {
        let r = req.into_inner();
        let a = self
            .0
            .register(&r.agent_id, &r.name, r.capabilities, r.max_tasks.max(1))
            .await?;
        let cfg = self.0.cfg();
        Ok(Response::new(pb::RegisterAgentResponse {
            agent_id: a.id,
            heartbeat_interval_ms: u64::try_from(cfg.heartbeat_interval.as_millis())
                .unwrap_or(u64::MAX),
            lease_timeout_ms: u64::try_from(cfg.presence_ttl().as_millis()).unwrap_or(u64::MAX),
        }))
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let r = req.into_inner();
        let believed: Vec<(String, u64)> =
            r.held.into_iter().map(|l| (l.task_id, l.epoch)).collect();
        let out = self.0.heartbeat(&r.agent_id, &believed).await?;
        Ok(Response::new(pb::HeartbeatResponse {
            held: out
                .held
                .into_iter()
                .map(|(task_id, epoch)| pb::Lease { task_id, epoch })
                .collect(),
            revoked: out
                .revoked
                .into_iter()
                .map(|(task_id, epoch, reason)| pb::Revocation {
                    task_id,
                    epoch,
                    reason,
                })
                .collect(),
        }))
    }

    async fn deregister_agent(
        &self,
        req: Request<pb::DeregisterAgentRequest>,
    ) -> Result<Response<pb::DeregisterAgentResponse>, Status> {
        let n = self.0.deregister(&req.into_inner().agent_id).await?;
        Ok(Response::new(pb::DeregisterAgentResponse {
            handed_back: n,
        }))
    }

    async fn list_agents(
        &self,
        _req: Request<pb::ListAgentsRequest>,
    ) -> Result<Response<pb::ListAgentsResponse>, Status> {
        let agents = self.0.agents_now().await?;
        Ok(Response::new(pb::ListAgentsResponse {
            agents: agents
                .into_iter()
                .map(|(a, held)| {
                    let leases = held
                        .into_iter()
                        .map(|(task_id, epoch)| pb::Lease { task_id, epoch })
                        .collect();
                    agent_pb(&a, leases, self.0.cfg().presence_ttl())
                })
                .collect(),
        }))
    }

    async fn claim(
        &self,
        req: Request<pb::ClaimRequest>,
    ) -> Result<Response<pb::ClaimResponse>, Status> {
        let r = req.into_inner();
        let claimed = self
            .0
            .claim(&r.agent_id, Duration::from_millis(r.wait_ms), &r.types)
            .await?;
        let Some(c) = claimed else {
            return Ok(Response::new(pb::ClaimResponse::default()));
        };
        let previous = self.0.previous_result(&c.record).await;
        Ok(Response::new(pb::ClaimResponse {
            epoch: c.record.epoch,
            attempt_deadline: rfc3339(c.record.attempt_deadline),
            task: Some(task_pb(&c.record, previous.as_ref())),
        }))
    }

    async fn progress(
        &self,
        req: Request<pb::ProgressRequest>,
    ) -> Result<Response<pb::ProgressResponse>, Status> {
        let r = req.into_inner();
        let l = lease(r.lease)?;
        self.0
            .progress(&r.agent_id, &l.task_id, l.epoch, &r.message)
            .await?;
        Ok(Response::new(pb::ProgressResponse {}))
    }

    async fn complete(
        &self,
        req: Request<pb::CompleteRequest>,
    ) -> Result<Response<pb::CompleteResponse>, Status> {
        let r = req.into_inner();
        let l = lease(r.lease)?;
        let result = json_text(&r.result_json, "result_json")?;
        let done = self
            .0
            .complete(&r.agent_id, &l.task_id, l.epoch, result)
            .await?;
        Ok(Response::new(pb::CompleteResponse {
            released: done.released,
            already: done.already,
            result_json: done.result.to_string(),
        }))
    }

    async fn fail(
        &self,
        req: Request<pb::FailRequest>,
    ) -> Result<Response<pb::FailResponse>, Status> {
        let r = req.into_inner();
        let l = lease(r.lease)?;
        let delay = (r.retry_after_ms > 0).then(|| Duration::from_millis(r.retry_after_ms));
        let rec = self
            .0
            .fail(
                &r.agent_id,
                &l.task_id,
                l.epoch,
                &r.error,
                r.permanent,
                delay,
            )
            .await?;
        Ok(Response::new(pb::FailResponse {
            state: rec.state.as_str().into(),
            next_attempt_at: if rec.state == State::Retrying {
                rfc3339(rec.next_attempt_at)
            } else {
                String::new()
            },
            dead_letter_id: rec.dead_letter.unwrap_or(0),
        }))
    }

    async fn hand_back(
        &self,
        req: Request<pb::HandBackRequest>,
    ) -> Result<Response<pb::HandBackResponse>, Status> {
        let r = req.into_inner();
        let l = lease(r.lease)?;
        self.0.hand_back(&r.agent_id, &l.task_id, l.epoch).await?;
        Ok(Response::new(pb::HandBackResponse {}))
    }

    async fn submit_task(
        &self,
        req: Request<pb::SubmitTaskRequest>,
    ) -> Result<Response<pb::SubmitTaskResponse>, Status> {
        let r = req.into_inner();
        let s = spec(
            r.task
                .ok_or_else(|| Status::invalid_argument("task is required"))?,
        )?;
        let job = (!r.job_id.is_empty()).then_some(r.job_id);
        let out = self.0.submit(job, vec![s]).await?;
        let (task_id, state) = out
            .into_iter()
            .next()
            .ok_or_else(|| Status::internal("nothing submitted"))?;
        Ok(Response::new(pb::SubmitTaskResponse {
            task_id,
            state: (if state == State::Queued {
                "available"
            } else {
                state.as_str()
            })
            .into(),
        }))
    }

    async fn submit_job(
        &self,
        req: Request<pb::SubmitJobRequest>,
    ) -> Result<Response<pb::SubmitJobResponse>, Status> {
        let r = req.into_inner();
        let job_id = if r.job_id.is_empty() {
            crate::record::random_id("job")
        } else {
            r.job_id
        };
        let specs = r
            .tasks
            .into_iter()
            .map(spec)
            .collect::<Result<Vec<_>, _>>()?;
        let out = self.0.submit(Some(job_id.clone()), specs).await?;
        Ok(Response::new(pb::SubmitJobResponse {
            job_id,
            task_ids: out.into_iter().map(|(id, _)| id).collect(),
        }))
    }

    async fn cancel_task(
        &self,
        req: Request<pb::CancelTaskRequest>,
    ) -> Result<Response<pb::CancelTaskResponse>, Status> {
        let r = req.into_inner();
        self.0.cancel(&r.task_id, &r.operator, &r.reason).await?;
        Ok(Response::new(pb::CancelTaskResponse {}))
    }

    async fn get_task(
        &self,
        req: Request<pb::GetTaskRequest>,
    ) -> Result<Response<pb::TaskStatus>, Status> {
        let rec = self.0.record(&req.into_inner().task_id).await?;
        Ok(Response::new(status_pb(&rec.value)))
    }

    async fn list_tasks(
        &self,
        req: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let r = req.into_inner();
        let offset: usize = if r.page_token.is_empty() {
            0
        } else {
            r.page_token
                .parse()
                .map_err(|_| Status::invalid_argument("page_token is invalid"))?
        };
        let limit = if r.page_size == 0 {
            100
        } else {
            r.page_size as usize
        };
        let f = TaskFilter {
            state: Some(r.state),
            kind: Some(r.r#type),
            agent: Some(r.agent_id),
            job: Some(r.job_id),
            fingerprint: Some(r.fingerprint),
        };
        let (page, total) = list_tasks(&self.0, &f, offset, limit)?;
        let next = offset + page.len();
        Ok(Response::new(pb::ListTasksResponse {
            tasks: page.iter().map(status_pb).collect(),
            next_page_token: if next < total {
                next.to_string()
            } else {
                String::new()
            },
            total: total as u64,
        }))
    }

    async fn get_job(
        &self,
        req: Request<pb::GetJobRequest>,
    ) -> Result<Response<pb::JobStatus>, Status> {
        let id = req.into_inner().job_id;
        let job = crate::jobs::job(&self.0, &id)
            .ok_or_else(|| Status::not_found(format!("no job {id}")))?;
        Ok(Response::new(job_pb(job)))
    }

    async fn list_dead_letters(
        &self,
        req: Request<pb::ListDeadLettersRequest>,
    ) -> Result<Response<pb::ListDeadLettersResponse>, Status> {
        let r = req.into_inner();
        let list = self.0.list_dead(r.after, r.limit).await?;
        Ok(Response::new(pb::ListDeadLettersResponse {
            dead_letters: list.iter().map(dead_pb).collect(),
        }))
    }

    async fn get_dead_letter(
        &self,
        req: Request<pb::GetDeadLetterRequest>,
    ) -> Result<Response<pb::DeadLetter>, Status> {
        let dl = self.0.get_dead(req.into_inner().id).await?;
        Ok(Response::new(dead_pb(&dl)))
    }

    async fn replay_dead_letter(
        &self,
        req: Request<pb::ReplayDeadLetterRequest>,
    ) -> Result<Response<pb::ReplayDeadLetterResponse>, Status> {
        let r = req.into_inner();
        let (task_id, replayed, replays_left) = self.0.replay(r.id, &r.operator, &r.reason).await?;
        Ok(Response::new(pb::ReplayDeadLetterResponse {
            task_id,
            replayed,
            replays_left,
        }))
    }

    async fn clear_fingerprint(
        &self,
        req: Request<pb::ClearFingerprintRequest>,
    ) -> Result<Response<pb::ClearFingerprintResponse>, Status> {
        let r = req.into_inner();
        self.0
            .clear_fingerprint(&r.fingerprint, &r.operator, &r.reason)
            .await?;
        Ok(Response::new(pb::ClearFingerprintResponse {}))
    }

    async fn post_message(
        &self,
        req: Request<pb::PostMessageRequest>,
    ) -> Result<Response<pb::CoordinationMessage>, Status> {
        let r = req.into_inner();
        let post = self.0.post(&r.from, &r.text).await?;
        Ok(Response::new(post_pb(post)))
    }

    async fn list_messages(
        &self,
        req: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let r = req.into_inner();
        let mention = (!r.mention.is_empty()).then_some(r.mention.as_str());
        let posts = self.0.messages(r.after, r.limit, mention).await?;
        Ok(Response::new(pb::ListMessagesResponse {
            messages: posts.into_iter().map(post_pb).collect(),
        }))
    }
}

impl Dispatcher {
    /// Present agents with the leases each holds.
    pub async fn agents_now(
        &self,
    ) -> Result<Vec<(AgentRecord, Vec<(String, u64)>)>, DispatchError> {
        let agents = self.0.agents.list(crate::record::now_ms()).await?;
        Ok(agents
            .into_iter()
            .map(|a| {
                let held = self
                    .mirror()
                    .held_by(&a.id)
                    .into_iter()
                    .map(|v| (v.value.task.id, v.value.epoch))
                    .collect();
                (a, held)
            })
            .collect())
    }

    /// The result of the completed task a regression recurs after.
    pub async fn previous_result(&self, rec: &TaskRecord) -> Option<Value> {
        let prev = rec.regression_of.as_ref()?;
        let v = crate::store::task(&self.0.kv, prev).await.ok()??;
        v.value.result
    }
}
