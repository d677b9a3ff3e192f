//! The dispatcher's background loops, run by every replica (each change is
//! a CAS, so two replicas acting at once do it once):
//!
//! - the sweeper: revokes leases whose agent stopped heartbeating or whose
//!   attempt ran past `max_attempt_time`; keeps this replica's available
//!   messages alive (`+WPI`); settles blocked tasks whose parents ended;
//! - the advisory reader: dead-letters tasks whose message exhausted
//!   `max_deliver` (the server only says so in an advisory, captured by the
//!   ADVISORIES stream);
//! - the job watcher: logs and counts stalled jobs.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use faultline_core::shutdown::ShutdownSignal;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::dispatcher::{dur_ms, Dispatcher, CONSUMER};
use crate::intake::parse_task;
use crate::record::{now_ms, State};

/// Runs the sweeper until `shutdown`.
pub async fn sweeper(d: Dispatcher, mut shutdown: ShutdownSignal) {
    let tick = (d.cfg().heartbeat_interval / 4).max(Duration::from_millis(50));
    let wpi_every = d.cfg().ack_wait() / 3;
    let mut last_wpi: HashMap<String, Instant> = HashMap::new();
    d.0.mirror.wait_synced().await;
    loop {
        tokio::select! {
            () = shutdown.wait() => return,
            () = tokio::time::sleep(tick) => {}
        }
        if let Err(e) = Box::pin(sweep(&d, wpi_every, &mut last_wpi)).await {
            tracing::warn!(error = %e, "sweep failed; next tick retries");
        }
    }
}

async fn sweep(
    d: &Dispatcher,
    wpi_every: Duration,
    last_wpi: &mut HashMap<String, Instant>,
) -> Result<(), crate::error::DispatchError> {
    let now = now_ms();
    // Leases.
    let claimed = d.0.mirror.in_state(State::Claimed);
    let agents: Vec<String> = claimed
        .iter()
        .filter_map(|v| v.value.agent.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Without Redis nobody's presence is known: revoke nothing, but keep
    // every held message alive.
    let present = match d.0.agents.present(&agents).await {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read agents' presence; no lease is revoked this tick");
            None
        }
    };
    for v in claimed {
        let agent = v.value.agent.clone().unwrap_or_default();
        let Some(present) = &present else {
            if let Some(ack) = &v.value.ack {
                d.wpi(ack).await;
            }
            continue;
        };
        let reason = if !present.contains(&agent) {
            Some(format!(
                "lease_lost: agent {agent} stopped heartbeating (presence expired after {:?})",
                d.0.agents.ttl()
            ))
        } else if v.value.attempt_deadline > 0 && now > v.value.attempt_deadline {
            Some(format!(
                "attempt_time_exceeded: held by {agent} for more than {:?}",
                d.cfg().max_attempt_time
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            // Confirm against the bucket before acting on the mirror.
            // One task's failure never stops the sweep of the others.
            match crate::store::task(&d.0.kv, &v.value.task.id).await {
                Ok(Some(fresh)) if fresh.value.leased_to(&agent, v.value.epoch) => {
                    if let Err(e) = d.revoke(fresh, &reason).await {
                        tracing::warn!(task = v.value.task.id, error = %e, "cannot revoke the lease now");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(task = v.value.task.id, error = %e, "cannot read the task now");
                }
            }
        }
    }
    // This replica's available messages stay held.
    let mine: Vec<_> =
        d.0.mirror
            .in_state(State::Available)
            .into_iter()
            .filter(|v| v.value.owner.as_deref() == Some(d.0.instance.as_str()))
            .collect();
    let keep: BTreeSet<String> = mine.iter().map(|v| v.value.task.id.clone()).collect();
    last_wpi.retain(|id, _| keep.contains(id));
    for v in mine {
        let due = last_wpi
            .get(&v.value.task.id)
            .is_none_or(|t| t.elapsed() >= wpi_every);
        if due {
            if let Some(ack) = &v.value.ack {
                d.wpi(ack).await;
            }
            last_wpi.insert(v.value.task.id.clone(), Instant::now());
        }
    }
    // Blocked tasks whose parents ended (covers a parent that ended while
    // its dependent was being stored).
    for v in d.0.mirror.in_state(State::Blocked) {
        let parents_ended = v.value.task.blocked_by.iter().all(|p| {
            d.0.mirror
                .get(p)
                .is_some_and(|pv| pv.value.state.is_terminal())
        });
        if parents_ended && now - v.value.updated > 200 {
            if let Err(e) = d.settle_blocked(v).await {
                tracing::warn!(error = %e, "cannot settle a blocked task now");
            }
        }
    }
    // A task recorded as queued whose publish failed (its caller got an
    // error) has no message: publish it again, under a new message id.
    let stale = 4 * dur_ms(d.0.publish_timeout);
    for v in d.0.mirror.in_state(State::Queued) {
        if now - v.value.updated > stale {
            let mut next = v.value.clone();
            next.updated = now;
            if let Ok(Some(_)) = d.cas(v.rev, &next).await {
                match d.enqueue(&next.task, &format!("requeue{now}")).await {
                    Ok(_) => tracing::warn!(
                        task = next.task.id,
                        "queued task had no message; published again"
                    ),
                    Err(e) => {
                        tracing::warn!(task = next.task.id, error = %e, "cannot publish a queued task now");
                    }
                }
            }
        }
    }
    refresh_open(d, now).await;
    Ok(())
}

/// The bucket's `max_age` (`dispatcher.retention`) is for ended tasks: an
/// open task older than half of it is written again so its record never
/// expires under it. Bounded per sweep; a CAS lost to another replica is
/// fine (the other write refreshed it).
async fn refresh_open(d: &Dispatcher, now: i64) {
    const PER_SWEEP: usize = 64;
    let stale_before = now - i64::try_from(d.cfg().retention.as_millis() / 2).unwrap_or(i64::MAX);
    let mut done = 0;
    for state in [
        State::Blocked,
        State::Queued,
        State::Available,
        State::Claimed,
        State::Retrying,
    ] {
        for v in d.0.mirror.in_state(state) {
            if done >= PER_SWEEP {
                return;
            }
            if v.value.updated >= stale_before {
                continue;
            }
            let mut next = v.value.clone();
            next.updated = now;
            match d.cas(v.rev, &next).await {
                Ok(_) => done += 1,
                Err(e) => {
                    tracing::warn!(task = next.task.id, error = %e, "cannot refresh an old open task now");
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct MaxDeliveries {
    stream: String,
    consumer: String,
    stream_seq: u64,
    deliveries: u64,
}

/// Reads the max-deliveries advisories of the tasks stream and
/// dead-letters each task that exhausted its attempts.
pub async fn advisories(d: Dispatcher, mut shutdown: ShutdownSignal) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match Box::pin(read_advisories(&d, &mut shutdown)).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(
                error = e,
                "advisory reader stopped; retrying in {backoff:?}"
            ),
        }
        tokio::select! {
            () = shutdown.wait() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn read_advisories(d: &Dispatcher, shutdown: &mut ShutdownSignal) -> Result<(), String> {
    use faultline_core::names::stream;
    let adv_name = d.0.names.stream(stream::ADVISORIES);
    let tasks_name = d.0.names.stream(stream::TASKS);
    let adv =
        d.0.js
            .get_stream(&adv_name)
            .await
            .map_err(|e| format!("cannot open {adv_name}: {e}"))?;
    let tasks =
        d.0.js
            .get_stream(&tasks_name)
            .await
            .map_err(|e| format!("cannot open {tasks_name}: {e}"))?;
    let name = "task-dispatcher-max-deliveries";
    let consumer: async_nats::jetstream::consumer::Consumer<pull::Config> = adv
        .get_or_create_consumer(
            name,
            pull::Config {
                durable_name: Some(name.into()),
                filter_subject: format!(
                    "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{tasks_name}.{CONSUMER}"
                ),
                ack_policy: AckPolicy::Explicit,
                deliver_policy: DeliverPolicy::All,
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("cannot create consumer {name}: {e}"))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| format!("cannot pull advisories: {e}"))?;
    loop {
        let msg = tokio::select! {
            () = shutdown.wait() => return Ok(()),
            m = messages.next() => match m {
                Some(Ok(m)) => m,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("advisory subscription ended".into()),
            },
        };
        let adv: MaxDeliveries = match serde_json::from_slice(&msg.payload) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable advisory skipped");
                let _ = msg.ack().await;
                continue;
            }
        };
        if adv.stream != tasks_name || adv.consumer != CONSUMER {
            let _ = msg.ack().await;
            continue;
        }
        match exhausted(d, &tasks, &adv).await {
            Ok(()) => {
                let _ = msg.double_ack().await;
            }
            Err(e) => {
                tracing::warn!(seq = adv.stream_seq, error = %e, "cannot dead-letter an exhausted task now; retrying");
                let _ = msg
                    .ack_with(async_nats::jetstream::AckKind::Nak(Some(
                        Duration::from_secs(1),
                    )))
                    .await;
            }
        }
    }
}

async fn exhausted(
    d: &Dispatcher,
    tasks: &async_nats::jetstream::stream::Stream,
    adv: &MaxDeliveries,
) -> Result<(), crate::error::DispatchError> {
    let msg = match tasks.get_raw_message(adv.stream_seq).await {
        Ok(m) => m,
        // Already settled (completed, or dead-lettered by a replica).
        Err(e)
            if e.kind()
                == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
        {
            return Ok(())
        }
        Err(e) => {
            return Err(crate::error::DispatchError::Unavailable(format!(
                "cannot read task message {}: {e}",
                adv.stream_seq
            )))
        }
    };
    let published = crate::record::ms(std::time::SystemTime::from(msg.time));
    let subject = msg.subject.as_str();
    let id = match parse_task(subject, &msg.payload, msg.sequence, published) {
        Ok(t) => t.id,
        Err(why) => {
            // Never a task: copied with the reason, then deleted.
            crate::intake::dead_letter_raw(
                d,
                "invalid_task",
                subject,
                &msg.payload,
                adv.stream_seq,
                &why,
            )
            .await?;
            let _ = tasks.delete_message(adv.stream_seq).await;
            return Ok(());
        }
    };
    let record = crate::store::task(&d.0.kv, &id).await?;
    if record.is_none() {
        // Delivered until exhausted without ever being taken in (intake
        // kept failing): the message is all there is, so it is the copy.
        let why = format!(
            "{} deliveries and the dispatcher never took the task in",
            adv.deliveries
        );
        crate::intake::dead_letter_raw(
            d,
            "attempts_exhausted",
            subject,
            &msg.payload,
            adv.stream_seq,
            &why,
        )
        .await?;
    }
    if let Some(v) = record {
        if !v.value.state.is_terminal() && v.value.seq == Some(adv.stream_seq) {
            let why = format!(
                "{} deliveries without completion; last error: {}",
                adv.deliveries,
                v.value.last_error.clone().unwrap_or_else(|| "none".into())
            );
            match d.kill(v, "attempts_exhausted", &why, None).await {
                Ok(_) | Err(crate::error::DispatchError::FailedPrecondition(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    // The copy is stored: the message goes (a WorkQueue keeps it otherwise).
    let _ = tasks.delete_message(adv.stream_seq).await;
    Ok(())
}

/// Logs and counts stalled jobs, once per change.
pub async fn job_watch(d: Dispatcher, mut shutdown: ShutdownSignal) {
    let tick =
        (d.cfg().stall_after / 10).clamp(Duration::from_millis(200), Duration::from_secs(30));
    let mut reported: HashMap<String, String> = HashMap::new();
    loop {
        tokio::select! {
            () = shutdown.wait() => return,
            () = tokio::time::sleep(tick) => {}
        }
        let jobs = crate::jobs::all_jobs(&d);
        let mut stalled = 0;
        for job in jobs {
            let why = job.stalled.clone();
            if !why.is_empty() {
                stalled += 1;
            }
            let before = reported.get(&job.job_id).cloned().unwrap_or_default();
            if why != before {
                if why.is_empty() {
                    tracing::info!(job = job.job_id, "job is moving again");
                } else {
                    tracing::warn!(
                        job = job.job_id,
                        stalled = why,
                        total = job.total,
                        done = job.done,
                        in_flight = job.in_flight,
                        "job stalled"
                    );
                }
                reported.insert(job.job_id.clone(), why);
            }
        }
        d.0.metrics.jobs_stalled(stalled);
    }
}
