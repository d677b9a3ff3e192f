//! Dead letters: list, show, replay (once per dead letter, recorded with
//! who, when and why, within a budget per task).

use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use faultline_core::names::stream;
use serde_json::json;

use crate::dispatcher::Dispatcher;
use crate::error::DispatchError;
use crate::record::{now_ms, rfc3339, DeadLetterRecord, FingerprintRecord, State};

const MAX_PAGE: u32 = 500;

/// A stored dead letter with its id and the replays made of its task.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Its sequence in DEAD_LETTERS.
    pub id: u64,
    /// The record.
    pub record: DeadLetterRecord,
    /// Replays of its task so far.
    pub replays: u32,
}

impl Dispatcher {
    async fn dead_stream(&self) -> Result<Stream, DispatchError> {
        let name = self.0.names.stream(stream::DEAD_LETTERS);
        self.0
            .js
            .get_stream(&name)
            .await
            .map_err(|e| DispatchError::Unavailable(format!("cannot open {name}: {e}")))
    }

    /// Dead letters after `after`, oldest first.
    pub async fn list_dead(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, DispatchError> {
        let limit = if limit == 0 { 100 } else { limit.min(MAX_PAGE) };
        let s = self.dead_stream().await?;
        let subject = self.0.names.dead_tasks_wildcard();
        let mut out = Vec::new();
        let mut next = after.saturating_add(1);
        while out.len() < limit as usize {
            let msg = match s.get_first_raw_message_by_subject(&subject, next).await {
                Ok(m) => m,
                Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => break,
                Err(e) => {
                    return Err(DispatchError::Unavailable(format!(
                        "cannot list dead letters: {e}"
                    )))
                }
            };
            next = msg.sequence + 1;
            if let Ok(record) = serde_json::from_slice::<DeadLetterRecord>(&msg.payload) {
                let replays = self
                    .mirror()
                    .get(&record.task.id)
                    .map_or(0, |v| v.value.replays);
                out.push(DeadLetter {
                    id: msg.sequence,
                    record,
                    replays,
                });
            }
        }
        Ok(out)
    }

    /// One dead letter.
    pub async fn get_dead(&self, id: u64) -> Result<DeadLetter, DispatchError> {
        let s = self.dead_stream().await?;
        let msg = s
            .get_raw_message(id)
            .await
            .map_err(|_| DispatchError::NotFound(format!("no dead letter {id}")))?;
        let prefix = format!("{}.dead.task.", self.0.names.namespace());
        if !msg.subject.as_str().starts_with(&prefix) {
            return Err(DispatchError::NotFound(format!("no dead letter {id}")));
        }
        let record: DeadLetterRecord = serde_json::from_slice(&msg.payload).map_err(|_| {
            DispatchError::FailedPrecondition(format!(
                "dead letter {id} is not a task (an invalid message): it cannot be replayed"
            ))
        })?;
        let replays = crate::store::task(&self.0.kv, &record.task.id)
            .await?
            .map_or(0, |v| v.value.replays);
        Ok(DeadLetter {
            id,
            record,
            replays,
        })
    }

    /// Replays a dead letter: once per dead letter (a second call returns
    /// `false`), recorded on `{ns}.dead.replay.<id>`, within the budget.
    /// Returns (task id, replayed now, replays left).
    pub async fn replay(
        &self,
        id: u64,
        operator: &str,
        reason: &str,
    ) -> Result<(String, bool, u32), DispatchError> {
        if operator.trim().is_empty() || reason.trim().is_empty() {
            return Err(DispatchError::InvalidArgument(
                "operator and reason are required".into(),
            ));
        }
        let dl = self.get_dead(id).await?;
        let task_id = dl.record.task.id.clone();
        let budget = self.cfg().replay_budget;
        let rec = self.record(&task_id).await?;
        let pending = rec.value.state == State::Dead && rec.value.dead_letter == Some(id);
        if !pending {
            // Replayed before (or the task moved on): nothing new.
            return Ok((task_id, false, budget.saturating_sub(rec.value.replays)));
        }
        if rec.value.replays >= budget {
            return Err(DispatchError::FailedPrecondition(format!(
                "task {task_id} was replayed {} times (budget {budget}): no more replays",
                rec.value.replays
            )));
        }
        // The audit record, at most one per dead letter.
        let audit = json!({
            "dead_letter": id, "task_id": task_id, "operator": operator, "reason": reason,
            "replayed_at": rfc3339(now_ms()), "replay": rec.value.replays + 1,
        });
        match self
            .publish(
                self.0.names.dead_replay(id),
                None,
                serde_json::to_vec(&audit).unwrap_or_default().into(),
                Some(0),
            )
            .await
        {
            // Already recorded by an earlier call that stopped half-way: go on.
            Ok(_) | Err(DispatchError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
        let mut task = dl.record.task.clone();
        task.attempts = rec.value.replays + 1;
        let next = self
            .change(&task_id, |cur| {
                if !(cur.state == State::Dead && cur.dead_letter == Some(id)) {
                    return Err(DispatchError::FailedPrecondition(format!(
                        "task {task_id} is {} now",
                        cur.state.as_str()
                    )));
                }
                let mut next = cur.clone();
                next.task = task.clone();
                next.state = State::Queued;
                next.replays += 1;
                next.seq = None;
                next.ack = None;
                next.agent = None;
                next.dead_letter = None;
                next.last_error = Some(format!("replayed by {operator}: {reason}"));
                next.updated = now_ms();
                Ok(next)
            })
            .await?;
        if let Some(fp) = &next.task.fingerprint {
            let tid = task_id.clone();
            self.0
                .kv
                .modify::<FingerprintRecord, _>(&crate::record::fingerprint_key(fp), |cur| {
                    let mut f = cur.cloned()?;
                    if f.open_task.is_none() {
                        f.open_task = Some(tid.clone());
                    }
                    Some(f)
                })
                .await?;
        }
        self.enqueue(&next.task, "replay").await?;
        self.0.metrics.replayed();
        tracing::info!(
            task = task_id,
            dead_letter = id,
            operator,
            reason,
            "dead letter replayed"
        );
        Ok((task_id, true, budget.saturating_sub(next.replays)))
    }
}
