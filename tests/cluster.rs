//! The scale-out profile: a 3-node JetStream cluster with R3 streams (from
//! `provision.replicas`), every process given all three node URLs, and two
//! replicas each of error-ingest, injection-filter and task-dispatcher.
//!
//! Under load, the leader of the error stream is SIGKILLed; the clients keep
//! sending (retrying 503 and 429, as producers should), then the node is
//! restarted. Every event acknowledged with a 202 must become exactly one
//! task: one message on the tasks stream, one task handed to an agent through
//! the dispatchers and completed once. Nothing acknowledged is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::{self, stream::Stream};
use faultline_core::healthcheck::{exit, probe};
use faultline_core::ServiceName::{ErrorIngest, InjectionFilter, TaskDispatcher};
use faultline_proto::faultline::dispatch::v1 as pb;
use faultline_testkit::http::request;
use faultline_testkit::{NatsCluster, ServiceProcess};
use faultline_tests::{Stack, API_KEY};
use pb::task_dispatcher_client::TaskDispatcherClient;
use serde_json::Value;
use tonic::transport::Channel;
use tonic::Code;

const NODES: usize = 3;
const EVENTS: usize = 2000;
const CLIENTS: usize = 16;
/// Agents claiming the tasks at the end, spread over both dispatchers.
const AGENTS: usize = 8;

/// The agents' heartbeat interval (`dispatcher.heartbeat_interval`).
const HEARTBEAT: Duration = Duration::from_secs(2);

/// Settings every service gets on top of the stack's.
const SETTINGS: &[(&str, &str)] = &[
    // A filter message whose ack was lost with the killed node comes back
    // after this (its task is then a duplicate inside the 2 min window).
    ("FAULTLINE_FILTER__PUBLISH_TIMEOUT", "3s"),
    ("FAULTLINE_FILTER__ACK_WAIT", "8s"),
    ("FAULTLINE_DISPATCHER__HEARTBEAT_INTERVAL", "2s"),
];

/// Task id → (event id, epoch) of every claim of it.
type Claims = Arc<Mutex<BTreeMap<String, Vec<(String, u64)>>>>;

/// One acknowledged event.
#[derive(Debug, Clone)]
struct Acked {
    /// The fingerprint error-ingest gave it.
    fingerprint: String,
    /// The reply said the broker had it already (an earlier attempt that
    /// got a 503 was stored after all).
    duplicate: bool,
    /// The reply said it was forwarded (not held back by the
    /// per-fingerprint cap).
    forwarded: bool,
    /// When the attempt that got the 202 was sent.
    sent: Instant,
    /// When its 202 came back.
    replied: Instant,
}

#[derive(Debug, Default)]
struct Load {
    acked: Mutex<BTreeMap<String, Acked>>,
    /// 503 replies, 429 replies, connection errors.
    refused: AtomicUsize,
    limited: AtomicUsize,
    errors: AtomicUsize,
}

/// The cluster node `node-<i>` that leads `stream`.
async fn leader_of(js: &jetstream::Context, stream: &str) -> usize {
    let mut s = js.get_stream(stream).await.unwrap();
    let info = s.info().await.unwrap();
    let leader = info
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .unwrap_or_else(|| panic!("{stream} has no leader: {:?}", info.cluster));
    leader
        .strip_prefix("node-")
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("unexpected leader name {leader}"))
}

async fn messages_in(js: &jetstream::Context, stream: &str) -> Option<u64> {
    let mut s = js.get_stream(stream).await.ok()?;
    s.info().await.ok().map(|i| i.state.messages)
}

/// When `consumer` has been given every message of `stream` and every
/// delivery was acked: how many messages the stream still holds. Those are
/// "dangling": a clustered WorkQueue stream sometimes keeps a message whose
/// ack the consumer applied when its leader was lost at that moment
/// (nats-server 2.12.8; nats-io/nats-server#5148 describes the same). The
/// consumer never delivers them again, so they are a leak, not a loss; the
/// test checks that each one became its task.
async fn all_acked(js: &jetstream::Context, stream: &str, consumer: &str) -> Option<u64> {
    let mut s = js.get_stream(stream).await.ok()?;
    let state = s.info().await.ok()?.state.clone();
    let mut c = s.get_consumer::<pull::Config>(consumer).await.ok()?;
    let info = c.info().await.ok()?;
    let done = info.num_pending == 0
        && info.num_ack_pending == 0
        && info.ack_floor.stream_sequence >= state.last_sequence;
    done.then_some(state.messages)
}

/// Every message of a WorkQueue stream, read by sequence (an ordered
/// consumer would overlap the durable one and be refused), as JSON.
async fn read_all(stream: &Stream) -> Vec<Value> {
    let state = stream.get_info().await.unwrap().state;
    let mut out = Vec::new();
    if state.messages == 0 {
        return out;
    }
    for seq in state.first_sequence..=state.last_sequence {
        // A gap is a message deleted (acked) by its consumer.
        if let Ok(msg) = stream.get_raw_message(seq).await {
            out.push(serde_json::from_slice(&msg.payload).unwrap());
        }
    }
    out
}

async fn wait_serving(addr: &str, what: &str, process: &ServiceProcess) {
    faultline_testkit::eventually_true(Duration::from_secs(60), what, || async {
        probe(addr, "", Duration::from_secs(1)).await == exit::SERVING
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{what}:\n{}", tail(&process.output())));
}

async fn register(c: &mut TaskDispatcherClient<Channel>, id: &str) {
    c.register_agent(pb::RegisterAgentRequest {
        agent_id: id.into(),
        name: id.into(),
        capabilities: vec![],
        max_tasks: 1,
    })
    .await
    .unwrap_or_else(|e| panic!("register {id}: {e}"));
}

async fn client_at(addr: &str) -> TaskDispatcherClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    TaskDispatcherClient::new(channel)
}

fn event_id_of(task: &Value) -> String {
    task["context"]["event"]["event_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a task without its event id: {task}"))
        .to_owned()
}

/// Every stream of the namespace with its message count.
async fn streams(js: &jetstream::Context, ns: &str) {
    let mut names = js.stream_names();
    while let Some(Ok(name)) = futures_util::StreamExt::next(&mut names).await {
        if name.contains(ns) {
            eprintln!("  {name}: {:?} messages", messages_in(js, &name).await);
        }
    }
}

/// The last lines of a process's output.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Where the missing events went: every stream of the namespace, and what
/// the dispatcher knows of their fingerprints.
async fn explain(
    js: &jetstream::Context,
    ns: &str,
    dispatcher: &str,
    acked: &BTreeMap<String, Acked>,
    missing: &[&String],
    ingest_logs: &[String],
) {
    streams(js, ns).await;
    let advisories = js.get_stream(format!("{ns}_ADVISORIES")).await.unwrap();
    let state = advisories.get_info().await.unwrap().state;
    for seq in state.first_sequence..=state.last_sequence.min(state.first_sequence + 20) {
        if let Ok(m) = advisories.get_raw_message(seq).await {
            eprintln!(
                "  advisory {}: {}",
                m.subject,
                String::from_utf8_lossy(&m.payload)
            );
        }
    }
    let mut c = client_at(dispatcher).await;
    for id in missing.iter().take(10) {
        let a = &acked[*id];
        let r = c
            .list_tasks(pb::ListTasksRequest {
                fingerprint: a.fingerprint.clone(),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().tasks);
        eprintln!(
            "  missing {id} (fingerprint {}, duplicate {}, forwarded {}): dispatcher records {r:?}",
            a.fingerprint, a.duplicate, a.forwarded
        );
        // What error-ingest logged about it (with RUST_LOG=faultline_error_ingest=debug:
        // the PubAck's sequence and duplicate flag).
        let needle = format!("{id} ");
        for line in ingest_logs
            .iter()
            .flat_map(|l| l.lines())
            .filter(|l| l.contains(&needle) || l.contains(&format!("{id}\"")))
            .take(4)
        {
            eprintln!("    {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_cluster_loses_a_node_under_load_and_every_acknowledged_event_is_one_task() {
    let start = Instant::now();
    let mut stack: Stack<NatsCluster> = Stack::on_cluster("scale", NODES);
    let ns = stack.namespace.to_uppercase();
    let (errors, tasks) = (format!("{ns}_ERROR_REPORTS"), format!("{ns}_TASKS"));

    // Provisioning takes the replica count from config
    // (FAULTLINE_PROVISION__REPLICAS=3, set by the cluster stack).
    // `faultline init` is idempotent; a cluster's first stream creations
    // can time out on a loaded machine, so it is retried (as a deployment's
    // init job would be).
    let mut init = stack.run("faultline", &["init"], &[]);
    for _ in 0..3 {
        if init.code == Some(0) {
            break;
        }
        eprintln!("faultline init failed, retrying: {}", init.text);
        tokio::time::sleep(Duration::from_secs(1)).await;
        init = stack.run("faultline", &["init"], &[]);
    }
    assert_eq!(init.code, Some(0), "{}", init.text);
    let client = async_nats::ConnectOptions::new()
        .connect(stack.nats.urls().as_slice())
        .await
        .unwrap();
    let js = jetstream::new(client);
    for name in [&errors, &tasks] {
        let info = js.get_stream(name).await.unwrap().get_info().await.unwrap();
        assert_eq!(info.config.num_replicas, NODES, "{name} replicas");
        let peers = info.cluster.as_ref().map_or(0, |c| c.replicas.len());
        assert_eq!(peers, NODES - 1, "{name} has a leader and two followers");
    }

    // Two replicas of each service, every one connected with all node URLs.
    let ingest_a = stack.spawn_with(ErrorIngest, SETTINGS);
    let ingest_b = stack.spawn_replica(ErrorIngest, "ingest-b", SETTINGS);
    let filter_a = stack.spawn_with(InjectionFilter, SETTINGS);
    let filter_b = stack.spawn_replica(InjectionFilter, "filter-b", SETTINGS);
    let dispatcher_a = stack.spawn_with(TaskDispatcher, SETTINGS);
    let dispatcher_b = stack.spawn_replica(TaskDispatcher, "dispatcher-b", SETTINGS);
    let (dispatch_a_addr, dispatch_b_addr) = (
        stack.grpc_addr(TaskDispatcher),
        dispatcher_b.grpc_addr.clone(),
    );
    for (addr, what, process) in [
        (stack.grpc_addr(ErrorIngest), "error-ingest a", &ingest_a),
        (
            ingest_b.grpc_addr.clone(),
            "error-ingest b",
            &ingest_b.process,
        ),
        (
            stack.grpc_addr(InjectionFilter),
            "injection-filter a",
            &filter_a,
        ),
        (
            filter_b.grpc_addr.clone(),
            "injection-filter b",
            &filter_b.process,
        ),
        (dispatch_a_addr.clone(), "task-dispatcher a", &dispatcher_a),
        (
            dispatch_b_addr.clone(),
            "task-dispatcher b",
            &dispatcher_b.process,
        ),
    ] {
        wait_serving(&addr, what, process).await;
    }
    let ready = start.elapsed();

    // Load: CLIENTS concurrent producers, half on each error-ingest.
    let ingest_addrs = [
        stack.ingest_http_addr(),
        ingest_b.http_addr.clone().unwrap(),
    ];
    let load = Arc::new(Load::default());
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (addr, load, next) = (ingest_addrs[c % 2].clone(), load.clone(), next.clone());
        clients.push(tokio::spawn(async move {
            let auth = format!("Bearer {API_KEY}");
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= EVENTS {
                    return;
                }
                // Distinct fingerprints: every event is its own task.
                let id = format!("evt-{i}");
                let body = format!(
                    r#"{{"event_id": "{id}", "error": "scale-out test {i}", "fingerprint": ["scale-{i}"]}}"#
                );
                let give_up = Instant::now() + Duration::from_secs(40);
                loop {
                    assert!(Instant::now() < give_up, "{id} never accepted");
                    let sent = Instant::now();
                    let r = request(
                        &addr,
                        "POST",
                        "/v1/errors",
                        &[("Authorization", &auth)],
                        body.as_bytes(),
                    )
                    .await;
                    match r {
                        Ok(r) if r.status == 202 => {
                            let replied = Instant::now();
                            let reply = r.json();
                            let acked = Acked {
                                fingerprint: reply["fingerprint"].as_str().unwrap().to_owned(),
                                duplicate: reply["duplicate"].as_bool() == Some(true),
                                forwarded: reply["forwarded"].as_bool() == Some(true),
                                sent,
                                replied,
                            };
                            load.acked.lock().unwrap().insert(id, acked);
                            break;
                        }
                        // 503: no JetStream ack in time (a leader is being
                        // elected); 429: the key's rate limit. Both retry.
                        Ok(r) if r.status == 503 => {
                            load.refused.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) if r.status == 429 => {
                            load.limited.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => panic!("unexpected {} for {id}: {}", r.status, r.text()),
                        Err(_) => {
                            load.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }

    // Partway through, kill -9 the node leading the error stream (the one
    // every accepted event is written to).
    faultline_testkit::eventually_true(Duration::from_secs(40), "a third accepted", || {
        let load = load.clone();
        async move { load.acked.lock().unwrap().len() >= EVENTS / 3 }
    })
    .await
    .unwrap();
    let victim = leader_of(&js, &errors).await;
    let tasks_leader = leader_of(&js, &tasks).await;
    let killed_at = Instant::now();
    let at_kill = load.acked.lock().unwrap().len();
    let refused_before = load.refused.load(Ordering::Relaxed);
    tokio::task::block_in_place(|| stack.nats.node(victim).kill());

    for c in clients {
        c.await.unwrap();
    }
    let sending = killed_at.elapsed();
    let acked = load.acked.lock().unwrap().clone();
    assert!(at_kill < EVENTS, "the kill happened under load");
    // Recovery: from the kill to the first 202 of a request sent after it.
    let recovered = acked
        .values()
        .filter(|a| a.sent >= killed_at)
        .map(|a| a.replied.duration_since(killed_at))
        .min()
        .expect("events were accepted after the kill");
    let new_leader = leader_of(&js, &errors).await;
    assert_ne!(new_leader, victim, "another node leads the error stream");

    let duplicates = acked.values().filter(|a| a.duplicate).count();
    let held_back = acked.values().filter(|a| !a.forwarded).count();
    eprintln!(
        "cluster: {NODES} nodes, R{NODES}; ready after {:.1}s\n\
         sent {EVENTS}, acked {} ({duplicates} of them as duplicates of an attempt that got a 503, \
         {held_back} not forwarded), \
         acked before the kill {at_kill}; 503 {} ({} after the kill), 429 {}, connection errors {}\n\
         killed node-{victim} (error stream leader; tasks leader was node-{tasks_leader}); node-{new_leader} took over\n\
         first 202 for a request sent after the kill: {:.2}s; sending ended {:.1}s after the kill",
        ready.as_secs_f64(),
        acked.len(),
        load.refused.load(Ordering::Relaxed),
        load.refused.load(Ordering::Relaxed) - refused_before,
        load.limited.load(Ordering::Relaxed),
        load.errors.load(Ordering::Relaxed),
        recovered.as_secs_f64(),
        sending.as_secs_f64(),
    );

    // Bring the node back; it catches up from the others.
    let restart = Instant::now();
    tokio::task::block_in_place(|| {
        stack.nats.node(victim).restart().expect("restart node");
        stack
            .nats
            .wait_for_meta_leader(Duration::from_secs(30))
            .expect("meta leader after restart");
    });
    let restarted = restart.elapsed();

    // The pipeline drains: the filters' consumer has delivered every event
    // and every delivery was acked (each event was turned into a task, with
    // its PubAck, before its ack).
    let drain = faultline_testkit::eventually(
        Duration::from_secs(30),
        "the filters' consumer acked everything",
        || {
            let (js, errors) = (&js, &errors);
            async move { all_acked(js, errors, "injection-filter").await }
        },
    )
    .await;
    let dangling_errors = match drain {
        Ok(left) => left,
        Err(e) => {
            streams(&js, &ns).await;
            let consumer = js
                .get_stream(&errors)
                .await
                .unwrap()
                .get_consumer::<pull::Config>("injection-filter")
                .await
                .map(|c| c.cached_info().clone());
            panic!(
                "{e}\nconsumer: {consumer:?}\nfilter a:\n{}\nfilter b:\n{}",
                tail(&filter_a.output()),
                tail(&filter_b.process.output())
            );
        }
    };
    let drained = killed_at.elapsed();
    eprintln!(
        "restart took {:.1}s; every event taken and acked {:.1}s after the kill; \
         acked but still in the error stream (dangling): {dangling_errors}",
        restarted.as_secs_f64(),
        drained.as_secs_f64()
    );

    // 1. The tasks stream: one message per acknowledged event (the
    // dispatchers hold them un-acked until an agent completes them).
    let task_msgs = read_all(&js.get_stream(&tasks).await.unwrap()).await;
    let mut in_stream: BTreeMap<String, usize> = BTreeMap::new();
    for t in &task_msgs {
        *in_stream.entry(event_id_of(t)).or_default() += 1;
    }
    let acked_ids: BTreeSet<String> = acked.keys().cloned().collect();
    let stream_ids: BTreeSet<String> = in_stream.keys().cloned().collect();
    let stream_dupes: Vec<_> = in_stream.iter().filter(|(_, n)| **n > 1).collect();
    let stream_missing: Vec<_> = acked_ids.difference(&stream_ids).collect();
    let stream_extra: Vec<_> = stream_ids.difference(&acked_ids).collect();

    eprintln!(
        "tasks stream: {} messages, {} events, duplicates {}, missing {}, unexpected {}",
        task_msgs.len(),
        in_stream.len(),
        stream_dupes.len(),
        stream_missing.len(),
        stream_extra.len(),
    );
    if !stream_missing.is_empty() || !stream_dupes.is_empty() {
        // Which error stream messages became tasks (a task names its
        // source message's sequence).
        let last = js
            .get_stream(&errors)
            .await
            .unwrap()
            .get_info()
            .await
            .unwrap()
            .state
            .last_sequence;
        let mut by_seq: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for t in &task_msgs {
            by_seq
                .entry(t["origin"]["seq"].as_u64().unwrap_or(0))
                .or_default()
                .push(event_id_of(t));
        }
        let no_task: Vec<u64> = (1..=last).filter(|s| !by_seq.contains_key(s)).collect();
        let shared: Vec<_> = by_seq.iter().filter(|(_, v)| v.len() > 1).collect();
        eprintln!(
            "  error stream last sequence {last}; sequences without a task {no_task:?}; \
             sequences with several tasks {shared:?}"
        );
        let logs = [ingest_a.output(), ingest_b.process.output()];
        explain(&js, &ns, &dispatch_a_addr, &acked, &stream_missing, &logs).await;
    }
    assert_eq!(
        acked.len(),
        EVENTS,
        "every event was acknowledged in the end"
    );
    assert!(
        stream_dupes.is_empty(),
        "more than one task message: {stream_dupes:?}"
    );
    assert!(
        stream_missing.is_empty(),
        "acknowledged, no task message: {stream_missing:?}"
    );
    assert!(
        stream_extra.is_empty(),
        "tasks of unknown events: {stream_extra:?}"
    );
    assert_eq!(task_msgs.len(), EVENTS);

    // 2. Through the dispatchers: agents on both replicas claim and complete
    // everything; each acknowledged event is handed out as exactly one task.
    let claims: Claims = Arc::default();
    let completed: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let claiming = Instant::now();
    // Presence lost (the agent registers again) and leases lost (its
    // completion is refused; the task goes to another agent): both can
    // happen to a live agent on a loaded machine, neither may complete a
    // task twice or lose one.
    let reregistered = Arc::new(AtomicUsize::new(0));
    let leases_lost = Arc::new(AtomicUsize::new(0));
    let mut agents = Vec::new();
    for a in 0..AGENTS {
        let addr = if a % 2 == 0 {
            dispatch_a_addr.clone()
        } else {
            dispatch_b_addr.clone()
        };
        let (claims, completed) = (claims.clone(), completed.clone());
        let (reregistered, leases_lost) = (reregistered.clone(), leases_lost.clone());
        let expected = task_msgs.len();
        agents.push(tokio::spawn(async move {
            let id = format!("agent-{a}");
            let mut c = client_at(&addr).await;
            register(&mut c, &id).await;
            // Heartbeats on their own task, as the SDK does.
            let beat = {
                let (mut c, id) = (c.clone(), id.clone());
                tokio::spawn(async move {
                    loop {
                        let _ = c
                            .heartbeat(pb::HeartbeatRequest {
                                agent_id: id.clone(),
                                held: vec![],
                            })
                            .await;
                        tokio::time::sleep(HEARTBEAT / 2).await;
                    }
                })
            };
            // Consecutive empty claims: stop soon once everything is done,
            // and in any case after 15 s without a task.
            let mut idle = 0;
            loop {
                let all_done = completed.lock().unwrap().len() >= expected;
                if (all_done && idle >= 2) || idle >= 30 {
                    beat.abort();
                    return;
                }
                let r = c
                    .claim(pb::ClaimRequest {
                        agent_id: id.clone(),
                        wait_ms: 500,
                        types: vec![],
                    })
                    .await;
                let r = match r {
                    Ok(r) => r.into_inner(),
                    Err(e) if e.code() == Code::FailedPrecondition => {
                        reregistered.fetch_add(1, Ordering::Relaxed);
                        register(&mut c, &id).await;
                        continue;
                    }
                    Err(e) => panic!("claim by {id}: {e}"),
                };
                let Some(task) = r.task else {
                    idle += 1;
                    continue;
                };
                idle = 0;
                let ctx: Value = serde_json::from_str(&task.context_json).unwrap();
                let event = ctx["event"]["event_id"].as_str().unwrap_or("").to_owned();
                claims
                    .lock()
                    .unwrap()
                    .entry(task.id.clone())
                    .or_default()
                    .push((event, r.epoch));
                let done = c
                    .complete(pb::CompleteRequest {
                        lease: Some(pb::Lease {
                            task_id: task.id.clone(),
                            epoch: r.epoch,
                        }),
                        agent_id: id.clone(),
                        result_json: "{}".into(),
                    })
                    .await;
                match done {
                    Ok(_) => *completed.lock().unwrap().entry(task.id).or_default() += 1,
                    Err(e) if e.code() == Code::FailedPrecondition => {
                        eprintln!("{id} lost the lease of {}: {}", task.id, e.message());
                        leases_lost.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => panic!("complete {} by {id}: {e}", task.id),
                }
            }
        }));
    }
    for a in agents {
        a.await.unwrap();
    }
    let claim_time = claiming.elapsed();
    let claims = claims.lock().unwrap().clone();
    let completed = completed.lock().unwrap().clone();
    let mut tasks_per_event: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (task, holders) in &claims {
        for (event, _) in holders {
            tasks_per_event
                .entry(event.clone())
                .or_default()
                .insert(task.clone());
        }
    }
    let handed_ids: BTreeSet<String> = tasks_per_event.keys().cloned().collect();
    let handed_dupes: Vec<_> = tasks_per_event
        .iter()
        .filter(|(_, t)| t.len() > 1)
        .collect();
    let handed_missing: Vec<_> = acked_ids.difference(&handed_ids).collect();
    let reclaimed = claims.values().filter(|h| h.len() > 1).count();
    let completed_twice: Vec<_> = completed.iter().filter(|(_, n)| **n > 1).collect();
    // Every task message was acked by the dispatchers (completion acks it);
    // any left in the stream must be a completed task's (dangling).
    let dangling_tasks = faultline_testkit::eventually(
        Duration::from_secs(10),
        "the dispatchers' consumer acked everything",
        || {
            let (js, tasks) = (&js, &tasks);
            async move { all_acked(js, tasks, "task-dispatcher").await }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let left: Vec<String> = read_all(&js.get_stream(&tasks).await.unwrap())
        .await
        .iter()
        .map(|t| t["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let left_open: Vec<_> = left
        .iter()
        .filter(|id| !completed.contains_key(*id))
        .collect();

    eprintln!(
        "dispatchers: {} tasks handed out and {} completed in {:.1}s by {AGENTS} agents; \
         events with more than one task {}, missing {}, claimed again {}, completed twice {}, \
         agents registered again {}, leases lost {}, \
         acked but still in the tasks stream (dangling) {dangling_tasks}; test wall time {:.1}s",
        claims.len(),
        completed.len(),
        claim_time.as_secs_f64(),
        handed_dupes.len(),
        handed_missing.len(),
        reclaimed,
        completed_twice.len(),
        reregistered.load(Ordering::Relaxed),
        leases_lost.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64(),
    );
    assert!(
        handed_dupes.is_empty(),
        "an event handed out as two tasks: {handed_dupes:?}"
    );
    assert!(
        handed_missing.is_empty(),
        "acknowledged, never handed out: {handed_missing:?}"
    );
    assert!(
        completed_twice.is_empty(),
        "completed twice: {completed_twice:?}"
    );
    assert_eq!(completed.len(), EVENTS, "every task completed once");
    assert!(
        left_open.is_empty(),
        "tasks left in the stream that were not completed: {left_open:?}"
    );
    drop((ingest_a, ingest_b, filter_b, dispatcher_a, dispatcher_b));
}
