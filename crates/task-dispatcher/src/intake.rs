//! The tasks stream's consumer: every replica pulls from the one durable
//! consumer, turns each message into (or matches it with) a task record, and
//! keeps the messages of available tasks alive until an agent claims them.
//!
//! The consumer's `max_deliver` is `dispatcher.max_attempts`: a message that
//! exhausts it is reported by the max-deliveries advisory (see `loops`).

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::Message;
use faultline_core::shutdown::ShutdownSignal;
use faultline_event::task::{Origin, Task, TaskContext, MAX_PRIORITY};
use faultline_injection_filter::{filter_mark, seal, Decision};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::{json, Value};

use crate::dispatcher::{Dispatcher, FingerprintSlot, CONSUMER};
use crate::error::DispatchError;
use crate::record::{now_ms, rfc3339, valid_id, State, TaskRecord};
use crate::scan;
use crate::store;

/// Reads a task message: faultline's task schema, or the looser shape seed
/// scripts publish (`task_id`, `title`, `priority: "high"`, ...).
pub fn parse_task(
    subject: &str,
    payload: &[u8],
    seq: u64,
    published_ms: i64,
) -> Result<Task, String> {
    // faultline's own schema first, straight from the bytes (the filter's
    // tasks are all of it); the looser shapes through a JSON value.
    let object = payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if let Some(task) = object
        .then(|| serde_json::from_slice::<Task>(payload).ok())
        .flatten()
    {
        faultline_core::names::token("task type", &task.kind).map_err(|e| e.to_string())?;
        if !valid_id(&task.id) {
            return Err(format!("task id {:?} is invalid", task.id));
        }
        if task.priority > MAX_PRIORITY {
            return Err(format!("priority {} is out of range 0 to 9", task.priority));
        }
        return Ok(task);
    }
    let value: Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(map) = &value else {
        return Err("not a JSON object".into());
    };
    let kind_from_subject = subject.rsplit('.').next().unwrap_or("task").to_owned();
    let s = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
    let list = |k: &str| -> Vec<String> {
        map.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let id = s("id")
        .or_else(|| s("task_id"))
        .unwrap_or_else(|| format!("pub-{seq}"));
    if !valid_id(&id) {
        return Err(format!(
            "task id {id:?} is invalid: use 1 to 128 of A-Z a-z 0-9 _ -"
        ));
    }
    let priority = match map.get("priority") {
        None | Some(Value::Null) => 5,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(p) if p <= u64::from(MAX_PRIORITY) => p as u8,
            _ => return Err(format!("priority {n} is out of range 0 to 9")),
        },
        Some(Value::String(p)) => match p.to_ascii_lowercase().as_str() {
            "critical" | "urgent" => 9,
            "high" => 7,
            "medium" | "normal" => 5,
            "low" => 2,
            other => {
                return Err(format!(
                    "priority {other:?} is not 0-9, low, medium, high or critical"
                ))
            }
        },
        Some(other) => return Err(format!("priority {other} is not a number")),
    };
    let description = s("description")
        .or_else(|| s("title"))
        .or_else(|| s("task"))
        .unwrap_or_default();
    if description.trim().is_empty() {
        return Err("no description".into());
    }
    // Everything else the producer sent is material, untrusted.
    let mut rest = map.clone();
    for k in [
        "id",
        "task_id",
        "type",
        "task_type",
        "priority",
        "description",
        "title",
        "task",
        "required_capabilities",
        "capabilities",
        "blocked_by",
        "depends_on",
        "job_id",
        "fingerprint",
    ] {
        rest.remove(k);
    }
    let context = match rest.remove("context") {
        Some(c) if rest.is_empty() => c,
        Some(c) => {
            rest.insert("context".into(), c);
            Value::Object(rest)
        }
        None if rest.is_empty() => Value::Null,
        None => Value::Object(rest),
    };
    let mut caps = list("required_capabilities");
    caps.extend(list("capabilities"));
    let mut blocked_by = list("blocked_by");
    blocked_by.extend(list("depends_on"));
    let kind = s("type")
        .or_else(|| s("task_type"))
        .unwrap_or(kind_from_subject);
    faultline_core::names::token("task type", &kind).map_err(|e| e.to_string())?;
    Ok(Task {
        id,
        kind,
        priority,
        description,
        context: TaskContext {
            event: (!context.is_null()).then_some(context),
            filter: None,
        },
        required_capabilities: caps,
        blocked_by,
        job_id: s("job_id").filter(|j| valid_id(j)),
        fingerprint: s("fingerprint"),
        origin: Origin {
            kind: "published".into(),
            subject: Some(subject.to_owned()),
            seq: Some(seq),
            ..Origin::default()
        },
        attempts: 0,
        created_at: rfc3339(published_ms),
    })
}

fn consumer_config(d: &Dispatcher) -> pull::Config {
    let cfg = d.cfg();
    pull::Config {
        durable_name: Some(CONSUMER.to_owned()),
        description: Some("task-dispatcher: every replica pulls from it".to_owned()),
        ack_policy: AckPolicy::Explicit,
        deliver_policy: DeliverPolicy::All,
        ack_wait: cfg.ack_wait(),
        max_deliver: i64::from(cfg.max_attempts),
        // The window of every replica, plus the claimed tasks.
        max_ack_pending: i64::try_from(cfg.window * 16).unwrap_or(i64::MAX),
        ..Default::default()
    }
}

/// Pulls until `shutdown`; restarts on errors.
pub async fn run(d: Dispatcher, mut shutdown: ShutdownSignal) {
    let mut backoff = Duration::from_millis(200);
    d.0.mirror.wait_synced().await;
    loop {
        if shutdown.is_triggered() {
            return;
        }
        if let Err(problem) = consume(&d, &mut shutdown).await {
            tracing::warn!(problem, "tasks consumer stopped; retrying in {backoff:?}");
        } else {
            return;
        }
        tokio::select! {
            () = shutdown.wait() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// The window: how many tasks this replica holds available right now.
/// Whether this replica holds fewer available tasks than its window.
fn room(d: &Dispatcher) -> bool {
    let window = d.cfg().window;
    let owned = d.0.mirror.count_in_state(State::Available, window, |r| {
        r.owner.as_deref() == Some(d.0.instance.as_str())
    });
    owned < window
}

async fn consume(d: &Dispatcher, shutdown: &mut ShutdownSignal) -> Result<(), String> {
    let stream_name = d.0.names.stream(faultline_core::names::stream::TASKS);
    let stream = d.0.js.get_stream(&stream_name).await.map_err(|e| {
        format!("cannot open stream {stream_name}: {e} (provision it: `faultline init`)")
    })?;
    let wanted = consumer_config(d);
    let consumer: async_nats::jetstream::consumer::Consumer<pull::Config> = stream
        .get_or_create_consumer(CONSUMER, wanted.clone())
        .await
        .map_err(|e| format!("cannot create consumer {CONSUMER}: {e}"))?;
    let have = &consumer.cached_info().config;
    let consumer = if have.ack_wait != wanted.ack_wait
        || have.max_deliver != wanted.max_deliver
        || have.max_ack_pending != wanted.max_ack_pending
    {
        tracing::info!("updating consumer {CONSUMER} to the configured settings");
        stream
            .update_consumer(wanted)
            .await
            .map_err(|e| format!("cannot update consumer {CONSUMER}: {e}"))?
    } else {
        consumer
    };
    let batch = d.cfg().window.min(256);
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .map_err(|e| format!("cannot pull from {stream_name}: {e}"))?;
    tracing::info!(stream = stream_name, consumer = CONSUMER, "taking tasks");
    let mut in_hand = FuturesUnordered::new();
    let mut order = FingerprintOrder::default();
    let limit = 64;
    let result = loop {
        // Hold at most `window` available tasks; claims free the window.
        let room = room(d);
        tokio::select! {
            biased;
            () = shutdown.wait() => break Ok(()),
            Some(fingerprint) = in_hand.next(), if !in_hand.is_empty() => {
                if let Some(next) = order.done(fingerprint) {
                    in_hand.push(handle(d, next));
                }
            }
            item = messages.next(), if room && in_hand.len() + order.waiting() < limit => match item {
                Some(Ok(msg)) => {
                    let fingerprint = fingerprint_of(&msg.payload);
                    if let Some(msg) = order.admit(msg, fingerprint) {
                        in_hand.push(handle(d, msg));
                    }
                }
                Some(Err(err)) => break Err(format!("pulling from {stream_name}: {err}")),
                None => break Err(format!("pull subscription on {stream_name} ended")),
            },
            () = tokio::time::sleep(Duration::from_millis(100)), if !room => {}
        }
    };
    while in_hand.next().await.is_some() {}
    result
}

/// Messages of one fingerprint are taken in stream order, one at a time:
/// the first error of a fingerprint opens its task and the later ones attach
/// to it, as they arrived (taken concurrently, any of them could win the
/// race for the fingerprint record). Messages of other fingerprints, and
/// those without one, go on concurrently.
struct FingerprintOrder<M> {
    /// Fingerprints with a message in hand, and the messages behind it.
    busy: std::collections::HashMap<String, std::collections::VecDeque<M>>,
    waiting: usize,
}

impl<M> Default for FingerprintOrder<M> {
    fn default() -> Self {
        Self {
            busy: std::collections::HashMap::new(),
            waiting: 0,
        }
    }
}

impl<M> FingerprintOrder<M> {
    /// A message to take now, or `None` when it waits behind its fingerprint.
    fn admit(&mut self, msg: M, fingerprint: Option<String>) -> Option<(M, Option<String>)> {
        let Some(fp) = fingerprint else {
            return Some((msg, None));
        };
        match self.busy.get_mut(&fp) {
            Some(queue) => {
                queue.push_back(msg);
                self.waiting += 1;
                None
            }
            None => {
                self.busy
                    .insert(fp.clone(), std::collections::VecDeque::new());
                Some((msg, Some(fp)))
            }
        }
    }

    /// A message of `fingerprint` was taken: the next one behind it, if any.
    fn done(&mut self, fingerprint: Option<String>) -> Option<(M, Option<String>)> {
        let fp = fingerprint?;
        let queue = self.busy.get_mut(&fp)?;
        match queue.pop_front() {
            Some(next) => {
                self.waiting -= 1;
                Some((next, Some(fp)))
            }
            None => {
                self.busy.remove(&fp);
                None
            }
        }
    }

    /// Messages held back.
    fn waiting(&self) -> usize {
        self.waiting
    }
}

/// The fingerprint a task message names (both task shapes carry it at the
/// top level), read without building the task.
fn fingerprint_of(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Hint {
        fingerprint: Option<String>,
    }
    serde_json::from_slice::<Hint>(payload).ok()?.fingerprint
}

/// Takes one message; returns its fingerprint (for [`FingerprintOrder`]).
async fn handle(d: &Dispatcher, (msg, fingerprint): (Message, Option<String>)) -> Option<String> {
    take(d, msg).await;
    fingerprint
}

async fn take(d: &Dispatcher, msg: Message) {
    let Ok(info) = msg.info() else {
        tracing::warn!("task message without JetStream metadata ignored");
        return;
    };
    let seq = info.stream_sequence;
    let delivered = u32::try_from(info.delivered).unwrap_or(u32::MAX);
    let published = crate::record::ms(std::time::SystemTime::from(info.published));
    let Some(ack) = msg.reply.as_ref().map(|r| r.to_string()) else {
        return;
    };
    let seal = msg
        .headers
        .as_ref()
        .and_then(|h| h.get(seal::HEADER))
        .map(async_nats::HeaderValue::as_str);
    let delivery = Delivery {
        seq,
        delivered,
        published,
        ack: &ack,
        seal,
    };
    match intake(d, &msg.subject, &msg.payload, &delivery).await {
        Ok(()) => {}
        Err(e) => {
            d.0.metrics.intake_failed();
            tracing::warn!(seq, error = %e, "cannot take the task now; redelivered later");
            // Back off with the deliveries: an outage spends attempts slowly.
            d.nak(&ack, Duration::from_secs(u64::from(delivered.min(30))))
                .await;
        }
    }
}

/// One delivery of a task message.
pub(crate) struct Delivery<'a> {
    /// Stream sequence.
    pub(crate) seq: u64,
    /// Times delivered, this one included.
    pub(crate) delivered: u32,
    /// When it was stored (unix ms).
    pub(crate) published: i64,
    /// Its ack subject.
    pub(crate) ack: &'a str,
    /// Its scan seal header, if any.
    pub(crate) seal: Option<&'a str>,
}

/// Takes one delivery of a task message.
pub(crate) async fn intake(
    d: &Dispatcher,
    subject: &str,
    payload: &[u8],
    delivery: &Delivery<'_>,
) -> Result<(), DispatchError> {
    let &Delivery {
        seq,
        delivered,
        published,
        ack,
        seal,
    } = delivery;
    // Sealed by the injection-filter over exactly these bytes, with this
    // build's scanner: its mark stands for a scan here.
    let sealed = match (&d.0.seal, seal) {
        (Some(key), Some(seal)) => key.verify(
            d.0.names.namespace().as_str(),
            &d.0.thresholds,
            payload,
            seal,
        ),
        _ => false,
    };
    let task = match parse_task(subject, payload, seq, published) {
        Ok(t) => t,
        Err(why) => return invalid(d, subject, payload, seq, &why, ack).await,
    };
    // The first delivery of a task this replica's mirror (loaded, and fed
    // by the bucket's watch) has never seen is taken as new without asking
    // the leader: its record is created by CAS, so if the id was taken
    // after all (submitted through another replica a moment ago), the
    // create fails and the record is read. Redeliveries always read.
    let mut surely_new = delivered <= 1 && d.0.mirror.is_synced() && !d.0.mirror.contains(&task.id);
    for _ in 0..16 {
        let existing = if std::mem::take(&mut surely_new) {
            None
        } else {
            store::task(&d.0.kv, &task.id).await?
        };
        let done = match existing {
            None => new_task(d, &task, seq, delivered, ack, sealed).await?,
            Some(v) => known_task(d, v, seq, delivered, ack).await?,
        };
        if done {
            return Ok(());
        }
    }
    Err(DispatchError::Unavailable(format!(
        "task {}: too many concurrent changes",
        task.id
    )))
}

/// Makes `rec` available on this delivery.
fn make_available(rec: &mut TaskRecord, d: &Dispatcher, seq: u64, delivered: u32, ack: &str) {
    let now = now_ms();
    rec.state = State::Available;
    rec.seq = Some(seq);
    rec.ack = Some(ack.to_owned());
    rec.attempt = delivered;
    rec.owner = Some(d.0.instance.clone());
    rec.agent = None;
    rec.available_since = now;
    rec.updated = now;
}

/// A message whose task has no record yet. Returns false to look again.
async fn new_task(
    d: &Dispatcher,
    task: &Task,
    seq: u64,
    delivered: u32,
    ack: &str,
    sealed: bool,
) -> Result<bool, DispatchError> {
    let now = now_ms();
    // Scan: everything an agent reads is scanned here, with the
    // description, whoever wrote it, unless the injection-filter's seal
    // shows that this very message is what it scanned and passed (or
    // flagged): then its mark stands (see `faultline_injection_filter::seal`).
    let released = verified_release(d, task).await?;
    let mut task = task.clone();
    let vouched =
        sealed
            && task.context.filter.as_ref().is_some_and(|m| {
                m.release.is_none() && matches!(m.decision.as_str(), "pass" | "flag")
            });
    if vouched && !released {
        d.0.metrics.task_scan("sealed");
    } else if !released {
        d.0.metrics.task_scan("scanned");
        let verdict = scan::scan_task(&task, &d.0.thresholds);
        if verdict.decision == Decision::Reject {
            reject(d, &task, &verdict, seq).await?;
            let rec = TaskRecord::new(task.clone(), State::Rejected, now);
            if d.create(&rec).await?.is_none() {
                return Ok(false);
            }
            d.ack_logged(Some(ack), &task.id).await;
            d.0.metrics.refused("task");
            return Ok(true);
        }
        if task.context.filter.is_none() || verdict.decision == Decision::Flag {
            task.context.filter = Some(filter_mark(verdict.decision.as_str(), &verdict, None));
        }
    }
    // Parents: each must exist. A parent published just after its child
    // (straight to NATS, no ordering between them) gets a few deliveries'
    // time to arrive before the child is refused.
    for p in &task.blocked_by {
        let known = valid_id(p) && store::task(&d.0.kv, p).await?.is_some();
        if !known && valid_id(p) && delivered + 1 < d.cfg().max_attempts {
            let delay = Duration::from_secs(u64::from(delivered.max(1)));
            tracing::info!(
                task = task.id,
                parent = p,
                ?delay,
                "parent not seen yet; the child waits"
            );
            d.nak(ack, delay).await;
            d.0.metrics.intake("parent_pending");
            return Ok(true);
        }
        if !known {
            let why = format!("blocked_by names unknown task {p:?}");
            return invalid(
                d,
                "",
                &serde_json::to_vec(&task).unwrap_or_default(),
                seq,
                &why,
                ack,
            )
            .await
            .map(|()| true);
        }
    }
    let mut regression_of = None;
    if let Some(fp) = task.fingerprint.clone() {
        match d.open_fingerprint(&fp, &task.id).await? {
            FingerprintSlot::Open { regression_of: r } => regression_of = r,
            FingerprintSlot::Attach(open) => {
                if !d.attach(&task, &open, Some(seq)).await? {
                    return Ok(false);
                }
                d.ack_logged(Some(ack), &task.id).await;
                d.0.metrics.intake("attached");
                tracing::debug!(task = task.id, open, "occurrence attached to the open task");
                return Ok(true);
            }
            FingerprintSlot::Suppressed => {
                let mut rec = TaskRecord::new(task.clone(), State::Suppressed, now);
                rec.seq = Some(seq);
                if d.create(&rec).await?.is_none() {
                    return Ok(false);
                }
                d.ack_logged(Some(ack), &task.id).await;
                d.0.metrics.intake("suppressed");
                return Ok(true);
            }
        }
    }
    let blocked = !d.parents_completed(&task.blocked_by).await?;
    let mut rec = TaskRecord::new(task.clone(), State::Blocked, now);
    rec.regression_of = regression_of;
    if blocked {
        rec.seq = None;
        if d.create(&rec).await?.is_none() {
            return Ok(false);
        }
        // The record keeps the task; the message is done with.
        d.ack_logged(Some(ack), &task.id).await;
        if let Some(v) = store::task(&d.0.kv, &task.id).await? {
            d.settle_blocked(v).await?;
        }
        d.0.metrics.intake("blocked");
        return Ok(true);
    }
    make_available(&mut rec, d, seq, delivered, ack);
    if d.create(&rec).await?.is_none() {
        return Ok(false);
    }
    d.0.metrics.intake("available");
    Ok(true)
}

/// A message whose task has a record. Returns false to look again.
async fn known_task(
    d: &Dispatcher,
    v: store::Versioned<TaskRecord>,
    seq: u64,
    delivered: u32,
    ack: &str,
) -> Result<bool, DispatchError> {
    let rec = &v.value;
    tracing::debug!(task = rec.task.id, state = rec.state.as_str(), epoch = rec.epoch, seq, delivered, rec_seq = ?rec.seq, "delivery of a known task");
    let this_message = rec.seq == Some(seq);
    match rec.state {
        // Published for it (submitted, unblocked, replayed): take it.
        State::Queued => {
            let mut next = rec.clone();
            if !d.parents_completed(&rec.task.blocked_by).await? {
                next.state = State::Blocked;
                next.seq = None;
                next.updated = now_ms();
                if d.cas(v.rev, &next).await?.is_none() {
                    return Ok(false);
                }
                d.ack_logged(Some(ack), &rec.task.id).await;
                return Ok(true);
            }
            make_available(&mut next, d, seq, delivered, ack);
            if d.cas(v.rev, &next).await?.is_none() {
                return Ok(false);
            }
            d.0.metrics.intake("available");
            Ok(true)
        }
        // Redelivered: after a retry delay, a revoked lease, an expired
        // ack wait (a replica died, an agent vanished): available again.
        // A claimed record's holder is fenced by the epoch the next claim raises.
        State::Available | State::Claimed | State::Retrying if this_message => {
            if rec.state == State::Available && rec.ack.as_deref() == Some(ack) {
                return Ok(true);
            }
            let mut next = rec.clone();
            if rec.state == State::Claimed {
                // The server redelivered a message whose holder may be alive
                // (the replica that kept it died; the ack wait ran out just
                // before the claim's +WPI). A live holder keeps its lease
                // under the new delivery; otherwise the task moves on.
                let holder = rec.agent.clone().unwrap_or_default();
                // Redis unreachable: assume the holder lives (its lease is
                // still fenced by the epoch); never burn attempts on an outage.
                let alive =
                    d.0.agents
                        .present(std::slice::from_ref(&holder))
                        .await
                        .map_or(true, |a| a.contains(&holder));
                if alive && now_ms() < rec.attempt_deadline {
                    next.ack = Some(ack.to_owned());
                    next.seq = Some(seq);
                    next.attempt = delivered;
                    next.updated = now_ms();
                    if d.cas(v.rev, &next).await?.is_none() {
                        return Ok(false);
                    }
                    d.wpi(ack).await;
                    d.0.metrics.intake("redelivered_kept");
                    return Ok(true);
                }
                next.epoch += 1;
                next.last_error =
                    Some("lease_lost: the message was redelivered after ack_wait".into());
            }
            make_available(&mut next, d, seq, delivered, ack);
            if d.cas(v.rev, &next).await?.is_none() {
                return Ok(false);
            }
            d.0.metrics.intake("redelivered");
            Ok(true)
        }
        State::Blocked => {
            // Its parents completed and someone published it; or a duplicate.
            let mut next = rec.clone();
            next.state = State::Queued;
            if d.cas(v.rev, &next).await?.is_none() {
                return Ok(false);
            }
            Ok(false)
        }
        // Ended (or a duplicate of a live task under another message):
        // settle the message; what happened is in the record.
        _ => {
            if rec.state == State::Dead && this_message {
                d.term(ack, "dead").await;
            } else {
                d.ack_logged(Some(ack), &rec.task.id).await;
            }
            d.0.metrics.intake("settled");
            Ok(true)
        }
    }
}

/// A release mark is trusted only when its record exists in SECURITY.
async fn verified_release(d: &Dispatcher, task: &Task) -> Result<bool, DispatchError> {
    let Some(release) = task
        .context
        .filter
        .as_ref()
        .and_then(|f| f.release.as_ref())
    else {
        return Ok(false);
    };
    let security = d.0.names.stream(faultline_core::names::stream::SECURITY);
    let stream =
        d.0.js
            .get_stream(&security)
            .await
            .map_err(|e| DispatchError::Unavailable(format!("cannot open {security}: {e}")))?;
    let subject = d.0.names.security_released(release.rejection_id);
    match stream.get_last_raw_message_by_subject(&subject).await {
        Ok(_) => Ok(true),
        Err(e) => {
            tracing::warn!(task = task.id, rejection = release.rejection_id, error = %e, "release mark without a release record: scanned like any task");
            Ok(false)
        }
    }
}

/// Records a refused task on `{ns}.security.rejected`, with its explanation.
async fn reject(
    d: &Dispatcher,
    task: &Task,
    verdict: &faultline_injection_filter::Verdict,
    seq: u64,
) -> Result<(), DispatchError> {
    let message = scan::refusal_message(|f| scan::task_field_text(task, f), verdict);
    let record = json!({
        "reason": "prompt_injection_detected",
        "snippet": message,
        "timestamp": rfc3339(now_ms()),
        "fingerprint": task.fingerprint,
        "verdict": { "decision": verdict.decision.as_str(), "score": verdict.score },
        "explanation": faultline_injection_filter::explanation_json(verdict),
        "source": {"kind": "task", "stream_seq": seq, "task_id": task.id},
        "task": task,
    });
    let msg_id = format!("{}-taskreject-{}", d.0.names.namespace(), task.id);
    d.publish(
        d.0.names.security_rejected(),
        Some(msg_id),
        serde_json::to_vec(&record).unwrap_or_default().into(),
        None,
    )
    .await?;
    tracing::warn!(
        task = task.id,
        "task refused by the injection filter; held on security.rejected"
    );
    Ok(())
}

/// A message that is not a task: dead-lettered with the reason, then removed.
async fn invalid(
    d: &Dispatcher,
    subject: &str,
    payload: &[u8],
    seq: u64,
    why: &str,
    ack: &str,
) -> Result<(), DispatchError> {
    dead_letter_raw(d, "invalid_task", subject, payload, seq, why).await?;
    d.term(ack, "invalid_task").await;
    tracing::warn!(
        seq,
        why,
        "message on the tasks stream is not a task: dead-lettered"
    );
    Ok(())
}

/// Copies a task message that has no usable record to the dead letters
/// (`{ns}.dead.task.invalid`) with `reason` and `why`; once per message.
pub(crate) async fn dead_letter_raw(
    d: &Dispatcher,
    reason: &str,
    subject: &str,
    payload: &[u8],
    seq: u64,
    why: &str,
) -> Result<(), DispatchError> {
    let record = json!({
        "reason": reason,
        "last_error": why,
        "subject": subject,
        "task_seq": seq,
        "payload": String::from_utf8_lossy(&payload[..payload.len().min(64 * 1024)]),
        "dead_at": rfc3339(now_ms()),
    });
    let target =
        d.0.names
            .dead_task("invalid")
            .map_err(|e| DispatchError::Internal(e.to_string()))?;
    let msg_id = format!("{}-invalid-{seq}", d.0.names.namespace());
    d.publish(
        target,
        Some(msg_id),
        serde_json::to_vec(&record).unwrap_or_default().into(),
        None,
    )
    .await?;
    d.0.metrics.dead(reason);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_fingerprint_in_hand_in_arrival_order() {
        let fp = |s: &str| Some(s.to_owned());
        let mut o = FingerprintOrder::default();
        assert_eq!(o.admit(1, fp("a")), Some((1, fp("a"))));
        assert_eq!(o.admit(2, fp("a")), None, "waits behind 1");
        assert_eq!(o.admit(3, None), Some((3, None)), "no fingerprint: at once");
        assert_eq!(o.admit(4, fp("b")), Some((4, fp("b"))));
        assert_eq!(o.admit(5, fp("a")), None);
        assert_eq!(o.waiting(), 2);
        assert_eq!(o.done(None), None);
        assert_eq!(o.done(fp("a")), Some((2, fp("a"))));
        assert_eq!(o.done(fp("a")), Some((5, fp("a"))));
        assert_eq!(o.waiting(), 0);
        assert_eq!(o.done(fp("a")), None);
        assert_eq!(o.admit(6, fp("a")), Some((6, fp("a"))), "a is free again");
        assert_eq!(o.done(fp("b")), None);
        assert!(o.busy.contains_key("a") && !o.busy.contains_key("b"));
        assert_eq!(
            fingerprint_of(br#"{"task_id":"t","fingerprint":"v1:x","title":"y"}"#),
            fp("v1:x")
        );
        assert_eq!(fingerprint_of(b"not json"), None);
    }

    #[test]
    fn seed_shaped_tasks_are_read() {
        let t = parse_task(
            "ns.tasks.code_review",
            br#"{"task_id":"t-1","title":"Review PR 12","priority":"high","capabilities":["git"],"repo":"api"}"#,
            7,
            1_000,
        )
        .unwrap();
        assert_eq!(t.id, "t-1");
        assert_eq!(t.kind, "code_review");
        assert_eq!(t.priority, 7);
        assert_eq!(t.description, "Review PR 12");
        assert_eq!(t.required_capabilities, ["git"]);
        assert_eq!(t.context.event, Some(json!({"repo": "api"})));
        assert_eq!(t.origin.kind, "published");
        let anon = parse_task("ns.tasks.x", br#"{"description":"do it"}"#, 42, 0).unwrap();
        assert_eq!(anon.id, "pub-42");
        assert_eq!(anon.priority, 5);
    }

    #[test]
    fn bad_task_messages_are_explained() {
        for (payload, want) in [
            (&b"nope"[..], "not JSON"),
            (b"[1]", "not a JSON object"),
            (br#"{"id":"a.b","description":"x"}"#, "invalid"),
            (br#"{"description":"x","priority":12}"#, "out of range"),
            (br#"{"description":"x","priority":"soon"}"#, "is not 0-9"),
            (br#"{"id":"a"}"#, "no description"),
            (br#"{"description":"x","type":"Code Review"}"#, "task type"),
        ] {
            let err = parse_task("ns.tasks.x", payload, 1, 0).unwrap_err();
            assert!(err.contains(want), "{err} lacks {want}");
        }
    }

    #[test]
    fn faultline_tasks_round_trip() {
        let task = Task {
            id: "inv-1".into(),
            kind: "investigation".into(),
            priority: 8,
            description: "d".into(),
            context: TaskContext::default(),
            required_capabilities: vec!["py".into()],
            blocked_by: vec![],
            job_id: None,
            fingerprint: Some("v1:ab".into()),
            origin: Origin {
                kind: "error_event".into(),
                ..Origin::default()
            },
            attempts: 0,
            created_at: "2026-01-01T00:00:00Z".into(),
        };
        let bytes = serde_json::to_vec(&task).unwrap();
        assert_eq!(
            parse_task("ns.tasks.investigation", &bytes, 1, 0).unwrap(),
            task
        );
    }
}
