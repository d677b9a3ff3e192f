//! error-ingest throughput and latency against its raw baseline, in one run.
//!
//! Starts its own nats-server (JetStream, file storage) and redis-server,
//! then measures, with 2 KiB events:
//! 1. raw: pipelined async-nats JetStream publishes of the same payload into
//!    a stream with the same config (unique `Nats-Msg-Id` per message, as
//!    the unique-fingerprint ingest runs have);
//! 2. each of the two HTTP ways in, over keep-alive connections:
//!    `POST /v1/errors` (one event per request) and `POST /v1/errors:batch`
//!    (many, as a producer that pipelines sends them):
//!    - flat out, every event a new fingerprint (every event a new message);
//!    - a storm of 90% duplicates, flat out;
//!    - a fixed offered load of half the flat-out rate: open loop, latency
//!      measured from each event's scheduled time (no coordinated omission;
//!      for `:batch`, an event's wait in the client for its batch counts);
//! 3. raw publishes at each of those offered loads, open loop (what
//!    nats-server alone does to the latency at that rate: its stalls are in
//!    both rows).
//!
//! Each row also shows the CPU time per event of this process (the load
//! client and error-ingest), nats-server and redis-server.
//!
//! `cargo bench -p faultline-error-ingest --bench ingest` (or `make bench`).
//! Environment: BENCH_EVENTS (default 20000), BENCH_CONNECTIONS (default 64).

#![allow(clippy::print_stdout)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use faultline_core::config::{Config, Url};
use faultline_core::names::{Names, Namespace};
use faultline_core::provision::{declared_streams, provision, Mode};
use faultline_core::service::run_with;
use faultline_core::shutdown::Shutdown;
use faultline_core::ServiceName;
use faultline_error_ingest::auth::stored_form;
use faultline_error_ingest::IngestApp;
use faultline_testkit::bench::{env_usize, percentile, post_open_loop, CpuMeter};
use faultline_testkit::http::Conn;
use faultline_testkit::{eventually, free_port, NatsServer, RedisServer};

const KEY: &str = "bench-key";
const RAW_SUBJECT: &str = "rawbench.errors.production";
/// Events per `:batch` request in the flat-out runs.
const BATCH: usize = 50;
/// `:batch` at a fixed load: at most this many events per request…
const FIXED_BATCH: usize = 20;
/// …and a batch leaves once its first event has waited this long (on
/// Tokio's 1 ms timer, so up to about a millisecond later).
const LINGER: Duration = Duration::from_millis(1);
/// Connections of the `:batch` runs.
const BATCH_CONNECTIONS: usize = 16;
const PAYLOAD_BYTES: usize = 2048;

/// A 2 KiB event; `fingerprint` selects its group.
fn event(unique: usize, fingerprint: &str) -> Vec<u8> {
    let mut ev = serde_json::json!({
        "error": "TimeoutError: upstream payment-service did not answer",
        "environment": "production",
        "release": "4.2.0",
        "fingerprint": [fingerprint],
        "context": {"request_id": format!("req-{unique}"), "file": "billing/charge.py", "line": 118},
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

struct Stats {
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// CPU per event of each process, over the measured part only.
    cpu: String,
}

/// The processes whose CPU each run reports: this one (bench client and
/// error-ingest), nats-server, redis-server.
type Procs = [(&'static str, Option<u32>); 3];

fn stats(count: usize, elapsed: Duration, mut lat: Vec<Duration>, cpu: &CpuMeter) -> Stats {
    lat.sort();
    Stats {
        rate: count as f64 / elapsed.as_secs_f64(),
        p50: percentile(&lat, 0.50),
        p99: percentile(&lat, 0.99),
        cpu: cpu.per_event(count),
    }
}

/// Sends one raw JetStream publish of `payload` with message id `id`.
async fn raw_publish(
    js: &jetstream::Context,
    subject: &str,
    payload: &bytes::Bytes,
    id: String,
) -> jetstream::context::PublishAckFuture {
    let msg = jetstream::message::PublishMessage::build()
        .payload(payload.clone())
        .message_id(id);
    js.send_publish(subject.to_owned(), msg)
        .await
        .expect("raw publish")
}

/// Pipelined JetStream publishes with up to `window` acks outstanding.
async fn raw_baseline(
    js: &jetstream::Context,
    subject: &str,
    n: usize,
    window: usize,
    procs: &Procs,
) -> Stats {
    let payload: bytes::Bytes = event(0, "raw").into();
    let mut pending = std::collections::VecDeque::with_capacity(window);
    let mut lat = Vec::with_capacity(n);
    let cpu = CpuMeter::start(procs);
    let started = Instant::now();
    for i in 0..n {
        if pending.len() >= window {
            let (t, ack): (Instant, jetstream::context::PublishAckFuture) =
                pending.pop_front().unwrap();
            ack.await.expect("raw ack");
            lat.push(t.elapsed());
        }
        let t = Instant::now();
        let ack = raw_publish(js, subject, &payload, format!("raw-{i}")).await;
        pending.push_back((t, ack));
    }
    while let Some((t, ack)) = pending.pop_front() {
        ack.await.expect("raw ack");
        lat.push(t.elapsed());
    }
    stats(n, started.elapsed(), lat, &cpu)
}

/// JetStream publishes of the same payload at `rate` per second, open loop:
/// each one's latency runs from its due time to its ack.
async fn raw_fixed_load(
    js: &jetstream::Context,
    subject: &str,
    n: usize,
    rate: f64,
    tag: &str,
    procs: &Procs,
) -> Stats {
    let payload: bytes::Bytes = event(0, "raw").into();
    let cpu = CpuMeter::start(procs);
    let start = Instant::now() + Duration::from_millis(10);
    let mut due = faultline_testkit::bench::open_loop(n, rate, start);
    let mut acks = Vec::with_capacity(n);
    while let Some((i, due)) = due.recv().await {
        let ack = raw_publish(js, subject, &payload, format!("raw-{tag}-{i}")).await;
        acks.push(tokio::spawn(async move {
            ack.await.expect("raw ack");
            due.elapsed()
        }));
    }
    let mut lat = Vec::with_capacity(n);
    for a in acks {
        lat.push(a.await.expect("ack task"));
    }
    stats(n, start.elapsed(), lat, &cpu)
}

/// `n` events; `duplicates` of them (a fraction) share one fingerprint,
/// the others each have their own. `tag` keeps runs' fingerprints apart.
fn events(n: usize, duplicates: f64, tag: &str) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let dup = (i % 100) as f64 / 100.0 < duplicates;
            let fp = if dup {
                format!("storm-{tag}")
            } else {
                format!("{tag}-{i}")
            };
            event(i, &fp)
        })
        .collect()
}

/// A `:batch` body of the events `items` of `bodies`.
fn batch_body(bodies: &[Vec<u8>], items: impl Iterator<Item = usize>) -> Vec<u8> {
    let mut body = b"[".to_vec();
    for (j, i) in items.enumerate() {
        if j > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&bodies[i]);
    }
    body.push(b']');
    body
}

/// Posts one `:batch` and checks that each of its `len` events was accepted.
async fn post_batch(conn: &mut Conn, body: &[u8], len: usize) {
    let (status, answer) = conn.exchange("/v1/errors:batch", body).await;
    assert_eq!(status, 200, "batch: status {status}");
    // Only the count is read (a client of the bench's own, kept cheap).
    #[derive(serde::Deserialize)]
    struct Answer {
        accepted: usize,
    }
    let parsed: Answer = serde_json::from_slice(&answer).expect("JSON");
    assert_eq!(
        parsed.accepted,
        len,
        "batch: {}",
        String::from_utf8_lossy(&answer)
    );
}

/// Closed loop over `POST /v1/errors`, one event per request.
async fn flat_out(
    addr: &str,
    n: usize,
    conns: usize,
    duplicates: f64,
    tag: &str,
    procs: &Procs,
) -> Stats {
    let requests = events(n, duplicates, tag)
        .into_iter()
        .map(|body| (body, 1))
        .collect();
    closed_loop(addr, conns, Way::Single, requests, procs).await
}

/// Closed loop over `POST /v1/errors:batch` with `per_batch` events per
/// request; latency is per request.
async fn batched(
    addr: &str,
    n: usize,
    conns: usize,
    per_batch: usize,
    duplicates: f64,
    tag: &str,
    procs: &Procs,
) -> Stats {
    let bodies = events(n, duplicates, tag);
    let requests = (0..n.div_ceil(per_batch))
        .map(|b| {
            let items = b * per_batch..((b + 1) * per_batch).min(n);
            (batch_body(&bodies, items.clone()), items.len())
        })
        .collect();
    closed_loop(addr, conns, Way::Batch, requests, procs).await
}

/// How a run sends its events.
#[derive(Debug, Clone, Copy)]
enum Way {
    /// `POST /v1/errors`, one event per request.
    Single,
    /// `POST /v1/errors:batch`.
    Batch,
}

/// Sends one request of `events` events and checks that all were accepted.
async fn send(conn: &mut Conn, way: Way, body: &[u8], events: usize) {
    match way {
        Way::Single => {
            let status = conn.post("/v1/errors", body).await;
            assert_eq!(status, 202, "flat out: status {status}");
        }
        Way::Batch => post_batch(conn, body, events).await,
    }
}

/// Sends every request (body, events in it) flat out over `conns`
/// keep-alive connections, each taking the next unsent request as soon as
/// its last one is answered. Latency is per request; the rate per event.
async fn closed_loop(
    addr: &str,
    conns: usize,
    way: Way,
    requests: Vec<(Vec<u8>, usize)>,
    procs: &Procs,
) -> Stats {
    let events: usize = requests.iter().map(|(_, n)| n).sum();
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let cpu = CpuMeter::start(procs);
    let started = Instant::now();
    for _ in 0..conns {
        let (addr, next, requests) = (addr.to_owned(), next.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr, KEY).await;
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, n)) = requests.get(i) else {
                    return lat;
                };
                let t = Instant::now();
                send(&mut conn, way, body, *n).await;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut lat = Vec::with_capacity(requests.len());
    for t in tasks {
        lat.extend(t.await.expect("client"));
    }
    stats(events, started.elapsed(), lat, &cpu)
}

/// Open loop at `rate` events/s through `:batch`, as a producer's SDK
/// sends: event `i` is due at `start + i / rate`; a batch leaves when it
/// holds `per_batch` events or its first event has waited `linger` (the
/// client wakes once per batch, not once per event; Tokio's timer rounds
/// the wake-up up to the next millisecond). Each event's latency
/// runs from its own due time to the answer of its batch, so its wait in
/// the client and for a free connection counts (no coordinated omission).
async fn batched_fixed_load(
    addr: &str,
    n: usize,
    rate: f64,
    conns: usize,
    per_batch: usize,
    linger: Duration,
    procs: &Procs,
) -> Stats {
    let bodies = Arc::new(events(n, 0.0, "batch-fixed"));
    // Batches wait here for a free connection; bounded by the event count.
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<(usize, Instant)>>(n.max(1));
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        let mut conn = Conn::open(addr, KEY).await;
        let (rx, bodies) = (rx.clone(), bodies.clone());
        clients.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let next = rx.lock().await.recv().await;
                let Some(batch) = next else { return lat };
                let body = batch_body(&bodies, batch.iter().map(|(i, _)| *i));
                post_batch(&mut conn, &body, batch.len()).await;
                let answered = Instant::now();
                lat.extend(batch.iter().map(|(_, due)| answered - *due));
            }
        }));
    }
    let cpu = CpuMeter::start(procs);
    let start = Instant::now() + Duration::from_millis(10);
    let interval = Duration::from_secs_f64(1.0 / rate);
    #[allow(clippy::cast_possible_truncation)]
    let due = |i: usize| start + interval * i as u32;
    let mut next = 0;
    while next < n {
        let last = (next + per_batch).min(n) - 1;
        tokio::time::sleep_until(due(last).min(due(next) + linger).into()).await;
        let now = Instant::now();
        let mut end = next + 1;
        while end < n && end - next < per_batch && due(end) <= now {
            end += 1;
        }
        tx.send((next..end).map(|i| (i, due(i))).collect())
            .await
            .expect("clients");
        next = end;
    }
    drop(tx);
    let mut lat = Vec::with_capacity(n);
    for c in clients {
        lat.extend(c.await.expect("load client"));
    }
    stats(n, start.elapsed(), lat, &cpu)
}

/// Open loop at `rate` events/s for `n` events, over a pool of connections.
async fn fixed_load(addr: &str, n: usize, rate: f64, conns: usize, procs: &Procs) -> Stats {
    let bodies = Arc::new(events(n, 0.0, "fixed"));
    let cpu = CpuMeter::start(procs);
    let (started, sent) = post_open_loop(addr, KEY, "/v1/errors", bodies, rate, conns).await;
    let elapsed = started.elapsed();
    let mut lat = Vec::with_capacity(n);
    for p in sent {
        assert_eq!(p.status, 202, "fixed load: status {}", p.status);
        lat.push(p.answered - p.due);
    }
    stats(n, elapsed, lat, &cpu)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let sample = event(1, "sample");
    faultline_event::parse(&sample, &faultline_event::Limits::default())
        .expect("the bench event is valid");
    assert_eq!(sample.len(), PAYLOAD_BYTES, "the bench event is 2 KiB");
    let n = env_usize("BENCH_EVENTS", 20_000);
    let conns = env_usize("BENCH_CONNECTIONS", 64);
    let nats = NatsServer::start().expect("nats-server");
    let redis = RedisServer::start().expect("redis-server");
    println!("error-ingest benchmark: {n} events of {PAYLOAD_BYTES} B, {conns} HTTP connections, nats-server and redis-server on 127.0.0.1");

    // The raw baseline: the same stream config, provisioned by the same code.
    let client = async_nats::connect(nats.url()).await.expect("nats");
    let js = jetstream::new(client);
    let raw_names = Names::new(Namespace::new("rawbench").unwrap());
    let cfg = Config::default();
    let specs = declared_streams(&raw_names, &cfg.provision).unwrap();
    provision(&js, &specs, Mode::Apply).await.unwrap();
    let procs = [
        ("bench+ingest", None),
        ("nats", nats.pid()),
        ("redis", redis.pid()),
    ];
    let raw = raw_baseline(&js, RAW_SUBJECT, n, 1024, &procs).await;

    // error-ingest, in-process, on the same servers.
    let mut cfg = Config {
        namespace: "bench".into(),
        ..Config::default()
    };
    cfg.nats.url = Url::new(nats.url());
    cfg.redis.url = Url::new(redis.url());
    cfg.provision.on_start = true;
    let grpc = format!("127.0.0.1:{}", free_port());
    let http = format!("127.0.0.1:{}", free_port());
    cfg.services.error_ingest.grpc_addr = grpc.clone();
    cfg.services.error_ingest.admin_addr = format!("127.0.0.1:{}", free_port());
    cfg.ingest.http_addr = http.clone();
    cfg.ingest.api_keys = Some(format!("bench:bench:{}", stored_form(KEY)));
    cfg.ingest.rate_limit = 1e9;
    cfg.ingest.rate_burst = 1e9;
    cfg.validate().expect("bench config");
    let (shutdown, _) = Shutdown::new();
    let app = tokio::spawn(run_with(
        ServiceName::ErrorIngest,
        cfg,
        IngestApp::build,
        shutdown.clone(),
    ));
    eventually(Duration::from_secs(30), "ingest serving", || async {
        (faultline_core::healthcheck::probe(&grpc, "", Duration::from_secs(1)).await == 0)
            .then_some(())
    })
    .await
    .unwrap();

    // Warm up, then measure. Two ways in: one event per request, and
    // `:batch`, the way a producer sends many events (as the raw baseline
    // pipelines its publishes).
    let _ = flat_out(&http, 1_000, conns, 0.0, "warm", &procs).await;
    let single = flat_out(&http, n, conns, 0.0, "single", &procs).await;
    let single_storm = flat_out(&http, n, conns, 0.9, "single-storm", &procs).await;
    // "p99 at half that load": half of each way's sustained rate.
    let fixed_n = |rate: f64| ((rate * 5.0) as usize).max(1_000).min(n);
    let single_half = single.rate / 2.0;
    let single_fixed = fixed_load(
        &http,
        fixed_n(single_half),
        single_half,
        conns.max(64),
        &procs,
    )
    .await;
    let raw_single_fixed = raw_fixed_load(
        &js,
        RAW_SUBJECT,
        fixed_n(single_half),
        single_half,
        "single",
        &procs,
    )
    .await;

    let batch = batched(&http, n, BATCH_CONNECTIONS, BATCH, 0.0, "batch", &procs).await;
    let batch_storm = batched(
        &http,
        n,
        BATCH_CONNECTIONS,
        BATCH,
        0.9,
        "batch-storm",
        &procs,
    )
    .await;
    let batch_half = batch.rate / 2.0;
    let batch_fixed = batched_fixed_load(
        &http,
        fixed_n(batch_half),
        batch_half,
        BATCH_CONNECTIONS,
        FIXED_BATCH,
        LINGER,
        &procs,
    )
    .await;
    let raw_batch_fixed = raw_fixed_load(
        &js,
        RAW_SUBJECT,
        fixed_n(batch_half),
        batch_half,
        "batch",
        &procs,
    )
    .await;

    println!();
    println!("| run                                           | events/s | p50 ms | p99 ms | vs raw | CPU µs per event                 |");
    println!("|-----------------------------------------------|---------:|-------:|-------:|-------:|----------------------------------|");
    let row = |name: &str, s: &Stats| {
        println!(
            "| {name:<45} | {:>8.0} | {:>6.2} | {:>6.2} | {:>5.0}% | {:<32} |",
            s.rate,
            s.p50.as_secs_f64() * 1e3,
            s.p99.as_secs_f64() * 1e3,
            100.0 * s.rate / raw.rate,
            s.cpu
        );
    };
    row("raw JetStream publish (pipelined)", &raw);
    row("POST /v1/errors, flat out", &single);
    row("POST /v1/errors, 90% duplicates", &single_storm);
    row(
        &format!("POST /v1/errors at {single_half:.0}/s (½)"),
        &single_fixed,
    );
    row(
        &format!("raw publish at {single_half:.0}/s"),
        &raw_single_fixed,
    );
    row(
        &format!(":batch of {BATCH}, flat out (per request)"),
        &batch,
    );
    row(
        &format!(":batch of {BATCH}, 90% duplicates (per request)"),
        &batch_storm,
    );
    row(
        &format!(
            ":batch ≤{FIXED_BATCH}/{}ms at {batch_half:.0}/s (½)",
            LINGER.as_millis()
        ),
        &batch_fixed,
    );
    row(
        &format!("raw publish at {batch_half:.0}/s"),
        &raw_batch_fixed,
    );
    println!();
    println!(
        "Targets, for each way in (:batch is how a producer pipelines, as the raw baseline does):"
    );
    for (way, flat, storm, half, fixed) in [
        (
            ":batch         ",
            &batch,
            &batch_storm,
            batch_half,
            &batch_fixed,
        ),
        (
            "POST /v1/errors",
            &single,
            &single_storm,
            single_half,
            &single_fixed,
        ),
    ] {
        let met = |ok: bool| if ok { "MET" } else { "NOT MET" };
        let ratio = flat.rate / raw.rate;
        let sustained = fixed.rate >= half * 0.95;
        println!(
            "  {way}  >= 50% of raw: {:>3.0}% {:<7}  p99 <= 5 ms at {half:.0}/s: {:.2} ms{} {:<7}  90% duplicates >= unique: {:.0} vs {:.0}/s {}",
            ratio * 100.0,
            met(ratio >= 0.5),
            fixed.p99.as_secs_f64() * 1e3,
            if sustained { "" } else { " (rate not sustained)" },
            met(sustained && fixed.p99 <= Duration::from_millis(5)),
            storm.rate,
            flat.rate,
            met(storm.rate >= flat.rate),
        );
    }
    shutdown.trigger();
    let _ = app.await;
    drop(redis);
    drop(nats);
}
