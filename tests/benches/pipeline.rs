//! End-to-end benchmark: HTTP ingest → task available, against a raw
//! JetStream chain with the same hops and payload, in one run.
//!
//! Starts its own nats-server (JetStream, file storage) and redis-server,
//! runs error-ingest, injection-filter and task-dispatcher in-process, and
//! measures, with 2 KiB events:
//! 1. raw chain, flat out: pipelined async-nats publishes into the raw errors
//!    stream → relay 1 (pull consumer, publish into the raw tasks stream,
//!    await the ack, ack the source) → relay 2 (the same, into the raw
//!    investigations stream) → a core subscription on its subject;
//! 2. the pipeline at fixed offered loads of 1k, 5k and 20k events/s (open
//!    loop, latency from each event's scheduled time: no coordinated
//!    omission), about 3 s each, capped at `BENCH_EVENTS` events;
//! 3. the pipeline flat out: `BENCH_CONNECTIONS` keep-alive connections in a
//!    closed loop, `BENCH_EVENTS` events.
//!
//! A task is available when the dispatcher has created its record: the
//! bench watches `$KV.BENCH_DISPATCH.t.>` and takes the first put that holds
//! each event's marker (its `context.request_id`). Every event has its own
//! fingerprint, so nothing is deduplicated or attached to an open task.
//! No agents run: the bench takes each task as soon as it sees it (acks its
//! message and marks its record cancelled), standing in for the agents a live
//! deployment has, so the available set stays small. `BENCH_KEEP_TASKS=1`
//! leaves every task available instead (the dispatcher's intake then looks
//! at every available task for every message, and the runs slow down as
//! tasks pile up).
//!
//! `cargo bench -p faultline-tests --bench pipeline` (or `make bench`).
//! Environment: BENCH_EVENTS (default 6000), BENCH_CONNECTIONS (default 64),
//! BENCH_KEEP_TASKS, BENCH_NO_SEAL (the injection-filter does not seal its
//! tasks, so the dispatcher scans each again).

#![allow(clippy::print_stdout, clippy::cast_precision_loss)] // a bench binary prints its table

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, message::PublishMessage};
use faultline_core::config::{Config, Url};
use faultline_core::names::{Names, Namespace};
use faultline_core::provision::{declared_streams, provision, Mode};
use faultline_core::service::run_with;
use faultline_core::shutdown::Shutdown;
use faultline_core::ServiceName;
use faultline_error_ingest::auth::stored_form;
use faultline_error_ingest::IngestApp;
use faultline_injection_filter::service::FilterApp;
use faultline_task_dispatcher::DispatcherApp;
use faultline_testkit::bench::{env_usize, percentile, post_open_loop};
use faultline_testkit::http::Conn;
use faultline_testkit::{eventually, free_port, NatsServer, RedisServer};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

const KEY: &str = "bench-key";
const PAYLOAD_BYTES: usize = 2048;
/// How long a run may take to deliver its last task after its last send.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Seconds of offered load per fixed-rate run (before the `BENCH_EVENTS` cap).
const FIXED_SECONDS: f64 = 3.0;

/// The marker of event `i` of run `run`, found again in its task record.
fn marker(run: u32, i: usize) -> String {
    format!("m-{run}-{i}-m")
}

/// Finds a marker in a record's bytes (plain or escaped JSON).
fn find_marker(bytes: &[u8]) -> Option<(u32, usize)> {
    const PREFIX: &[u8] = b"\"m-";
    let mut from = 0;
    while let Some(p) = bytes[from..]
        .windows(PREFIX.len())
        .position(|w| w == PREFIX)
    {
        let start = from + p + PREFIX.len();
        let rest = &bytes[start..];
        let end = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\')
            .unwrap_or(rest.len());
        let parsed = std::str::from_utf8(&rest[..end])
            .ok()
            .and_then(|s| s.strip_suffix("-m"))
            .and_then(|s| s.split_once('-'))
            .and_then(|(run, i)| Some((run.parse().ok()?, i.parse().ok()?)));
        if parsed.is_some() {
            return parsed;
        }
        from = start;
    }
    None
}

/// The ack subject of the message a task record holds (`"ack":"$JS.ACK…"`).
fn find_ack(record: &[u8]) -> Option<String> {
    const PREFIX: &[u8] = b"\"ack\":\"$JS.ACK.";
    let p = record.windows(PREFIX.len()).position(|w| w == PREFIX)?;
    let start = p + PREFIX.len() - b"$JS.ACK.".len();
    let len = record[start..].iter().position(|&b| b == b'"')?;
    String::from_utf8(record[start..start + len].to_vec()).ok()
}

/// An available task's record, cancelled.
fn cancelled(record: &[u8]) -> Option<Vec<u8>> {
    const FROM: &[u8] = b"\"state\":\"available\"";
    const TO: &[u8] = b"\"state\":\"cancelled\"";
    let p = record.windows(FROM.len()).position(|w| w == FROM)?;
    let mut out = record.to_vec();
    out[p..p + FROM.len()].copy_from_slice(TO);
    Some(out)
}

/// A 2 KiB event with its own fingerprint and a marker.
fn event(request_id: &str, fingerprint: &str) -> Vec<u8> {
    let mut ev = serde_json::json!({
        "error": "TimeoutError: upstream payment-service did not answer",
        "environment": "production",
        "release": "4.2.0",
        "fingerprint": [fingerprint],
        "context": {"request_id": request_id, "file": "billing/charge.py", "line": 118},
        "stack": "",
    });
    let base = serde_json::to_vec(&ev).expect("serialises").len();
    // A frame with nothing JSON must escape, so its length is its encoded length.
    let frame = "  at charge (billing/charge.py:118) in PaymentClient.call; ";
    let want = PAYLOAD_BYTES.saturating_sub(base);
    let stack: String = frame.chars().cycle().take(want).collect();
    ev["stack"] = stack.into();
    serde_json::to_vec(&ev).expect("serialises")
}

/// The bodies of run `run`.
fn bodies(run: u32, n: usize) -> Arc<Vec<Vec<u8>>> {
    Arc::new(
        (0..n)
            .map(|i| event(&marker(run, i), &format!("e2e-{run}-{i}")))
            .collect(),
    )
}

/// One run's outcome.
struct Outcome {
    /// Offered events/s (`None`: flat out).
    offered: Option<f64>,
    events: usize,
    /// Events whose task (or raw message) arrived.
    done: usize,
    /// Events the HTTP API did not accept with 202.
    refused: usize,
    rate: f64,
    p50: Duration,
    p99: Duration,
}

impl Outcome {
    /// `sent[i]`: when event `i` was due (open loop) or sent (closed loop);
    /// `seen[i]`: when its task arrived; `start`: the first send.
    fn new(
        offered: Option<f64>,
        start: Instant,
        sent: &[Option<Instant>],
        seen: &[Option<Instant>],
        refused: usize,
    ) -> Self {
        let mut lat: Vec<Duration> = sent
            .iter()
            .zip(seen)
            .filter_map(|(s, t)| Some(t.as_ref()?.saturating_duration_since(*s.as_ref()?)))
            .collect();
        lat.sort();
        let last = seen.iter().flatten().max().copied().unwrap_or(start);
        let elapsed = last.saturating_duration_since(start).as_secs_f64();
        let done = seen.iter().flatten().count();
        Self {
            offered,
            events: seen.len(),
            done,
            refused,
            rate: if elapsed > 0.0 {
                done as f64 / elapsed
            } else {
                0.0
            },
            p50: percentile(&lat, 0.50),
            p99: percentile(&lat, 0.99),
        }
    }

    /// The offered rate was sustained: every event made it, at ≥ 95% of it.
    fn sustained(&self) -> Option<bool> {
        let offered = self.offered?;
        Some(self.done == self.events && self.rate >= offered * 0.95)
    }
}

// ---- raw chain -------------------------------------------------------------

/// The index carried in a raw message's `Nats-Msg-Id` (`<hop>-<i>`).
fn raw_index(headers: Option<&async_nats::HeaderMap>) -> Option<usize> {
    let id = headers?.get(async_nats::header::NATS_MESSAGE_ID)?;
    id.as_str().rsplit('-').next()?.parse().ok()
}

/// One relay: pulls from `consumer` in batches, publishes each message to
/// `subject` (with `Nats-Msg-Id` `<hop>-<i>`), and acks the source once the
/// publish is acked; up to `in_flight` messages at once. Stops after `n`.
async fn relay(
    consumer: jetstream::consumer::Consumer<pull::Config>,
    js: jetstream::Context,
    subject: String,
    hop: String,
    n: usize,
    in_flight: usize,
) {
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(in_flight)
        .messages()
        .await
        .expect("relay pull");
    let mut pending = FuturesUnordered::new();
    let mut done = 0;
    while done < n {
        tokio::select! {
            Some(()) = pending.next(), if !pending.is_empty() => done += 1,
            m = messages.next(), if pending.len() < in_flight => {
                let m = m.expect("relay stream ended").expect("relay message");
                let i = raw_index(m.headers.as_ref()).expect("raw message id");
                let out = PublishMessage::build()
                    .payload(m.payload.clone())
                    .message_id(format!("{hop}-{i}"));
                let ack = js
                    .send_publish(subject.clone(), out)
                    .await
                    .expect("relay publish");
                pending.push(async move {
                    ack.await.expect("relay publish ack");
                    m.ack().await.expect("relay ack");
                });
            }
        }
    }
}

/// The raw chain, flat out: publish → relay → relay → core subscriber.
async fn raw_chain(nats_url: &str, names: &Names, n: usize, tag: &str) -> Outcome {
    let connect = || async { async_nats::connect(nats_url).await.expect("nats") };
    let (pub_client, relay1_client, relay2_client, sub_client) = (
        connect().await,
        connect().await,
        connect().await,
        connect().await,
    );
    let ns = names.namespace().as_str();
    let errors_stream = names.env_error_stream("production").unwrap();
    let errors_subject = names.env_errors_subject("production").unwrap();
    let tasks_stream = names.stream(faultline_core::names::stream::TASKS);
    let tasks_subject = names.task_subject("investigation").unwrap();
    let out_subject = format!("{ns}.investigation.bench");

    let js1 = jetstream::new(relay1_client);
    let js2 = jetstream::new(relay2_client);
    let consumer = |js: jetstream::Context, stream: String, name: String| async move {
        js.get_stream(&stream)
            .await
            .expect("raw stream")
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    max_ack_pending: 10_000,
                    ..Default::default()
                },
            )
            .await
            .expect("raw consumer")
    };
    // Consumers of their own per run: a finished relay's outstanding pull
    // requests would otherwise swallow the next run's first messages.
    let (name1, name2) = (format!("relay1-{tag}"), format!("relay2-{tag}"));
    let c1 = consumer(js1.clone(), errors_stream.clone(), name1.clone()).await;
    let c2 = consumer(js2.clone(), tasks_stream.clone(), name2.clone()).await;
    let mut sub = sub_client
        .subscribe(out_subject.clone())
        .await
        .expect("subscribe");
    sub_client.flush().await.expect("flush");

    // Message ids unique to the run, or the streams' duplicate window
    // would drop a later run's messages.
    let r1 = tokio::spawn(relay(c1, js1, tasks_subject, format!("t-{tag}"), n, 256));
    let r2 = tokio::spawn(relay(c2, js2, out_subject, format!("o-{tag}"), n, 256));
    let sink = tokio::spawn(async move {
        let mut seen = vec![None; n];
        let mut count = 0;
        while count < n {
            let Ok(Some(m)) = tokio::time::timeout(DRAIN_TIMEOUT, sub.next()).await else {
                break;
            };
            let t = Instant::now();
            if let Some(slot) = raw_index(m.headers.as_ref()).and_then(|i| seen.get_mut(i)) {
                if slot.is_none() {
                    *slot = Some(t);
                    count += 1;
                }
            }
        }
        seen
    });

    // Pipelined publishes, up to 1024 acks outstanding.
    let js = jetstream::new(pub_client);
    let payload: bytes::Bytes = event(&format!("raw-{tag}"), "raw").into();
    let mut sent = Vec::with_capacity(n);
    let mut acks = VecDeque::with_capacity(1024);
    let start = Instant::now();
    for i in 0..n {
        if acks.len() >= 1024 {
            let ack: jetstream::context::PublishAckFuture = acks.pop_front().unwrap();
            ack.await.expect("raw ack");
        }
        sent.push(Some(Instant::now()));
        let msg = PublishMessage::build()
            .payload(payload.clone())
            .message_id(format!("{tag}-{i}"));
        acks.push_back(
            js.send_publish(errors_subject.clone(), msg)
                .await
                .expect("raw publish"),
        );
    }
    for ack in acks {
        ack.await.expect("raw ack");
    }
    let seen = sink.await.expect("raw sink");
    let missing = seen.iter().filter(|s| s.is_none()).count();
    if missing == 0 {
        r1.await.expect("relay 1");
        r2.await.expect("relay 2");
    } else {
        println!("raw chain: {missing} of {n} messages did not arrive");
        r1.abort();
        r2.abort();
    }
    for (stream, name) in [(errors_stream, name1), (tasks_stream, name2)] {
        let stream = js.get_stream(&stream).await.expect("raw stream");
        stream
            .delete_consumer(&name)
            .await
            .expect("delete raw consumer");
    }
    Outcome::new(None, start, &sent, &seen, 0)
}

// ---- pipeline --------------------------------------------------------------

/// Tasks seen on the dispatch bucket: (run, event, when), first put or not.
type Seen = mpsc::UnboundedReceiver<(u32, usize, Instant)>;

/// Waits until every event of `run` has a task, or `DRAIN_TIMEOUT` passes
/// with none arriving; `expected` marks the events that were accepted.
async fn collect(seen_rx: &mut Seen, run: u32, expected: &[bool]) -> Vec<Option<Instant>> {
    let want = expected.iter().filter(|e| **e).count();
    let mut seen = vec![None; expected.len()];
    let mut count = 0;
    while count < want {
        match tokio::time::timeout(DRAIN_TIMEOUT, seen_rx.recv()).await {
            Ok(Some((r, i, t))) if r == run => {
                if let Some(slot) = seen.get_mut(i) {
                    if slot.is_none() {
                        *slot = Some(t);
                        count += 1;
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    if count < want {
        println!(
            "run {run}: {} of {want} accepted events have no task after waiting {DRAIN_TIMEOUT:?}",
            want - count
        );
    }
    seen
}

/// Closed loop: `conns` connections each sending as fast as replies come.
async fn flat_out(http: &str, seen_rx: &mut Seen, run: u32, n: usize, conns: usize) -> Outcome {
    let bodies = bodies(run, n);
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    let start = Instant::now();
    for _ in 0..conns {
        let (addr, next, bodies) = (http.to_owned(), next.clone(), bodies.clone());
        clients.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr, KEY).await;
            let mut sent = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return sent;
                }
                let t = Instant::now();
                let status = conn.post("/v1/errors", &bodies[i]).await;
                sent.push((i, t, status == 202));
            }
        }));
    }
    let mut sent = Vec::with_capacity(n);
    for c in clients {
        sent.extend(c.await.expect("client"));
    }
    finish(seen_rx, run, n, None, start, sent).await
}

/// Open loop at `rate` events/s for `n` events, over `conns` connections.
async fn fixed_load(
    http: &str,
    seen_rx: &mut Seen,
    run: u32,
    n: usize,
    rate: f64,
    conns: usize,
) -> Outcome {
    let (start, paced) = post_open_loop(http, KEY, "/v1/errors", bodies(run, n), rate, conns).await;
    let sent = paced
        .into_iter()
        .map(|p| (p.index, p.due, p.status == 202))
        .collect();
    finish(seen_rx, run, n, Some(rate), start, sent).await
}

async fn finish(
    seen_rx: &mut Seen,
    run: u32,
    n: usize,
    offered: Option<f64>,
    start: Instant,
    requests: Vec<(usize, Instant, bool)>,
) -> Outcome {
    let mut sent = vec![None; n];
    let mut accepted = vec![false; n];
    for (i, t, ok) in requests {
        sent[i] = Some(t);
        accepted[i] = ok;
    }
    let refused = accepted.iter().filter(|a| !**a).count();
    let seen = collect(seen_rx, run, &accepted).await;
    Outcome::new(offered, start, &sent, &seen, refused)
}

/// The server's message counters once the last run's trailing acks are in.
async fn settled_counts(nats: &NatsServer) -> Option<(u64, u64)> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.message_counts()
}

/// Messages in and out of the server per event between two readings.
fn per_event(
    before: Option<(u64, u64)>,
    after: Option<(u64, u64)>,
    events: usize,
) -> Option<(f64, f64)> {
    let ((i0, o0), (i1, o1)) = (before?, after?);
    let n = events.max(1) as f64;
    Some((
        i1.saturating_sub(i0) as f64 / n,
        o1.saturating_sub(o0) as f64 / n,
    ))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

#[allow(clippy::too_many_lines)]
async fn run() {
    // TEST_LOG=1 RUST_LOG=warn shows the services' logs.
    faultline_core::telemetry::init_for_tests();
    let sample = event(&marker(1, 1), "sample");
    faultline_event::parse(&sample, &faultline_event::Limits::default())
        .expect("the bench event is valid");
    assert_eq!(sample.len(), PAYLOAD_BYTES, "the bench event is 2 KiB");
    assert_eq!(find_marker(&sample), Some((1, 1)));
    let n = env_usize("BENCH_EVENTS", 6000);
    let conns = env_usize("BENCH_CONNECTIONS", 64);
    let nats = NatsServer::start().expect("nats-server");
    let redis = RedisServer::start().expect("redis-server");
    println!("pipeline benchmark: events of {PAYLOAD_BYTES} B, up to {n} per run, {conns} HTTP connections; nats-server and redis-server on 127.0.0.1; error-ingest, injection-filter and task-dispatcher in-process");

    // The raw chain: the same streams, provisioned by the same code.
    let client = async_nats::connect(nats.url()).await.expect("nats");
    let js = jetstream::new(client.clone());
    let raw_names = Names::new(Namespace::new("rawbench").unwrap());
    let specs = declared_streams(&raw_names, &Config::default().provision).unwrap();
    provision(&js, &specs, Mode::Apply).await.unwrap();
    let _ = raw_chain(&nats.url(), &raw_names, 1_000.min(n), "warm").await;
    let before = settled_counts(&nats).await;
    let raw = raw_chain(&nats.url(), &raw_names, n, "raw").await;
    let raw_msgs = per_event(before, settled_counts(&nats).await, raw.done);

    // The pipeline, in-process, on the same servers.
    let mut cfg = Config {
        namespace: "bench".into(),
        ..Config::default()
    };
    cfg.nats.url = Url::new(nats.url());
    cfg.redis.url = Url::new(redis.url());
    cfg.provision.on_start = true;
    let http = format!("127.0.0.1:{}", free_port());
    cfg.ingest.http_addr = http.clone();
    cfg.ingest.api_keys = Some(format!("bench:bench:{}", stored_form(KEY)));
    cfg.ingest.rate_limit = 1e9;
    cfg.ingest.rate_burst = 1e9;
    // The intake's window never fills, however late the bench takes tasks.
    cfg.dispatcher.window = 100_000;
    // Sealed tasks, as `make run` and compose deploy them (BENCH_NO_SEAL=1:
    // the dispatcher scans every task again).
    let seal_dir = tempfile::tempdir().expect("temp dir");
    if std::env::var_os("BENCH_NO_SEAL").is_none() {
        let path = seal_dir.path().join("seal.key");
        std::fs::write(&path, "bench-seal-key-0123456789abcdef0123456789abcdef").expect("key");
        cfg.filter.seal_key_file = Some(path);
    }
    for svc in [
        ServiceName::ErrorIngest,
        ServiceName::InjectionFilter,
        ServiceName::TaskDispatcher,
    ] {
        let ep = match svc {
            ServiceName::ErrorIngest => &mut cfg.services.error_ingest,
            ServiceName::InjectionFilter => &mut cfg.services.injection_filter,
            _ => &mut cfg.services.task_dispatcher,
        };
        ep.grpc_addr = format!("127.0.0.1:{}", free_port());
        ep.admin_addr = format!("127.0.0.1:{}", free_port());
        ep.depends_on.clear();
    }
    cfg.validate().expect("bench config");

    // Every put of a task record, as it happens.
    let names = Names::new(Namespace::new("bench").unwrap());
    let mut puts = client
        .subscribe(format!("$KV.{}.t.>", names.dispatch_bucket()))
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let take = std::env::var_os("BENCH_KEEP_TASKS").is_none();
    let taker = client.clone();
    tokio::spawn(async move {
        while let Some(m) = puts.next().await {
            let t = Instant::now();
            let Some((run, i)) = find_marker(&m.payload) else {
                continue;
            };
            if seen_tx.send((run, i, t)).is_err() {
                return;
            }
            if take {
                // Stand in for the agent that would take it: settle its
                // message and end its record, so the available set stays as
                // small as with live agents. The record is overwritten, not
                // deleted: the dispatcher's mirror applies its own create
                // after the watch, and would bring a deleted record back.
                if let Some(ended) = cancelled(&m.payload) {
                    if let Some(ack) = find_ack(&m.payload) {
                        let _ = taker.publish(ack, "+ACK".into()).await;
                    }
                    let _ = taker.publish(m.subject.clone(), ended.into()).await;
                }
            }
        }
    });

    // Started in dependency order, each serving before the next.
    let (shutdown, _) = Shutdown::new();
    let mut apps = Vec::new();
    for svc in [
        ServiceName::ErrorIngest,
        ServiceName::InjectionFilter,
        ServiceName::TaskDispatcher,
    ] {
        let grpc = cfg.services.get(svc).grpc_addr.clone();
        let (cfg, sd) = (cfg.clone(), shutdown.clone());
        apps.push(match svc {
            ServiceName::ErrorIngest => tokio::spawn(run_with(svc, cfg, IngestApp::build, sd)),
            ServiceName::InjectionFilter => tokio::spawn(run_with(svc, cfg, FilterApp::build, sd)),
            _ => tokio::spawn(run_with(svc, cfg, DispatcherApp::build, sd)),
        });
        eventually(Duration::from_secs(30), &format!("{svc} serving"), || {
            let grpc = grpc.clone();
            async move {
                (faultline_core::healthcheck::probe(&grpc, "", Duration::from_secs(1)).await == 0)
                    .then_some(())
            }
        })
        .await
        .unwrap();
    }

    // Warm up, then measure.
    let _ = flat_out(&http, &mut seen_rx, 0, 500.min(n), conns).await;
    let mut runs = Vec::new();
    for (k, rate) in [1_000.0, 5_000.0, 20_000.0].into_iter().enumerate() {
        let events = ((rate * FIXED_SECONDS) as usize).min(n);
        let run = u32::try_from(k).unwrap() + 1;
        let out = fixed_load(&http, &mut seen_rx, run, events, rate, conns).await;
        runs.push((format!("pipeline at {rate:.0}/s"), out));
    }
    let before = settled_counts(&nats).await;
    let flat = flat_out(&http, &mut seen_rx, 4, n, conns).await;
    let flat_msgs = per_event(before, settled_counts(&nats).await, flat.done);
    runs.push((format!("pipeline flat out ({conns} conns)"), flat));

    println!();
    println!("| run                                  | offered/s | events with a task | events/s | p50 ms | p99 ms | sustained | vs raw |");
    println!("|--------------------------------------|----------:|-------------------:|---------:|-------:|-------:|:---------:|-------:|");
    let row = |name: &str, o: &Outcome| {
        let offered = o
            .offered
            .map_or_else(|| "flat out".to_owned(), |r| format!("{r:.0}"));
        let refused = if o.refused > 0 {
            format!(" ({} refused)", o.refused)
        } else {
            String::new()
        };
        let sustained = match o.sustained() {
            None => "-",
            Some(true) => "yes",
            Some(false) => "no",
        };
        println!(
            "| {name:<36} | {offered:>9} | {:>18} | {:>8.0} | {:>6.2} | {:>6.2} | {sustained:^9} | {:>5.0}% |",
            format!("{}/{}{refused}", o.done, o.events),
            o.rate,
            o.p50.as_secs_f64() * 1e3,
            o.p99.as_secs_f64() * 1e3,
            100.0 * o.rate / raw.rate,
        );
    };
    row("raw chain (publish→relay→relay→sub)", &raw);
    for (name, o) in &runs {
        row(name, o);
    }
    println!();
    let flat = &runs.last().unwrap().1;
    let ratio = flat.rate / raw.rate;
    println!(
        "target: pipeline flat out >= 50% of the raw chain -> {:.0}% ({:.0} vs {:.0} events/s) {}",
        ratio * 100.0,
        flat.rate,
        raw.rate,
        if ratio >= 0.5 && flat.done == flat.events {
            "MET"
        } else {
            "NOT MET"
        }
    );
    if let (Some((raw_in, raw_out)), Some((in_, out))) = (raw_msgs, flat_msgs) {
        println!(
            "nats-server messages per event (in / out): raw chain {raw_in:.1} / {raw_out:.1}; pipeline flat out {in_:.1} / {out:.1} (the pipeline's include the bench's stand-in agent: its subscription to the task records, its ack and its overwrite of each record)"
        );
    }
    let at5k = &runs[1].1;
    let sustained = at5k.sustained() == Some(true);
    println!(
        "target: p99 ingest-to-task <= 20 ms at 5000/s -> {:.2} ms{} {}",
        at5k.p99.as_secs_f64() * 1e3,
        if sustained {
            ""
        } else {
            " (offered rate not sustained)"
        },
        if sustained && at5k.p99 <= Duration::from_millis(20) {
            "MET"
        } else {
            "NOT MET"
        }
    );
    shutdown.trigger();
    for app in apps {
        let _ = app.await;
    }
    drop(redis);
    drop(nats);
}
