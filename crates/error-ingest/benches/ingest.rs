//! error-ingest throughput and latency against its raw baseline, in one run.
//!
//! Starts its own nats-server (JetStream, file storage) and redis-server,
//! then measures, with 2 KiB events:
//! 1. raw: pipelined async-nats JetStream publishes of the same payload into
//!    a stream with the same config (unique `Nats-Msg-Id` per message, as
//!    the unique-fingerprint ingest run has);
//! 2. ingest flat out: HTTP `POST /v1/errors` over keep-alive connections,
//!    every event a new fingerprint (so every event is a new message);
//! 3. ingest at a fixed offered load of half its flat-out rate: open loop, latency
//!    measured from each request's scheduled time (no coordinated omission);
//! 4. raw publishes at that same offered load, open loop (what nats-server
//!    alone does to the latency at that rate: its stalls are in both rows);
//! 5. a storm of 90% duplicates, flat out.
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
use faultline_testkit::bench::{env_usize, percentile, post_open_loop};
use faultline_testkit::http::Conn;
use faultline_testkit::{eventually, free_port, NatsServer, RedisServer};

const KEY: &str = "bench-key";
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
}

fn stats(count: usize, elapsed: Duration, mut lat: Vec<Duration>) -> Stats {
    lat.sort();
    Stats {
        rate: count as f64 / elapsed.as_secs_f64(),
        p50: percentile(&lat, 0.50),
        p99: percentile(&lat, 0.99),
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
async fn raw_baseline(js: &jetstream::Context, subject: &str, n: usize, window: usize) -> Stats {
    let payload: bytes::Bytes = event(0, "raw").into();
    let mut pending = std::collections::VecDeque::with_capacity(window);
    let mut lat = Vec::with_capacity(n);
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
    stats(n, started.elapsed(), lat)
}

/// JetStream publishes of the same payload at `rate` per second, open loop:
/// each one's latency runs from its due time to its ack.
async fn raw_fixed_load(js: &jetstream::Context, subject: &str, n: usize, rate: f64) -> Stats {
    let payload: bytes::Bytes = event(0, "raw").into();
    let start = Instant::now() + Duration::from_millis(10);
    let mut due = faultline_testkit::bench::open_loop(n, rate, start);
    let mut acks = Vec::with_capacity(n);
    while let Some((i, due)) = due.recv().await {
        let ack = raw_publish(js, subject, &payload, format!("raw-fixed-{i}")).await;
        acks.push(tokio::spawn(async move {
            ack.await.expect("raw ack");
            due.elapsed()
        }));
    }
    let mut lat = Vec::with_capacity(n);
    for a in acks {
        lat.push(a.await.expect("ack task"));
    }
    stats(n, start.elapsed(), lat)
}

async fn flat_out(addr: &str, n: usize, conns: usize, duplicates: f64) -> Stats {
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..n)
            .map(|i| {
                let dup = (i % 100) as f64 / 100.0 < duplicates;
                let fp = if dup {
                    "storm".to_owned()
                } else {
                    format!("u-{i}-{duplicates}")
                };
                event(i, &fp)
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let started = Instant::now();
    for _ in 0..conns {
        let (addr, next, bodies) = (addr.to_owned(), next.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr, KEY).await;
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return lat;
                }
                let t = Instant::now();
                let status = conn.post("/v1/errors", &bodies[i]).await;
                assert_eq!(status, 202, "flat out: status {status}");
                lat.push(t.elapsed());
            }
        }));
    }
    let mut lat = Vec::with_capacity(n);
    for t in tasks {
        lat.extend(t.await.expect("client"));
    }
    stats(n, started.elapsed(), lat)
}

/// Closed loop over `POST /v1/errors:batch` with `per_batch` events per request.
async fn batched(addr: &str, n: usize, conns: usize, per_batch: usize) -> Stats {
    let batches: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..n.div_ceil(per_batch))
            .map(|b| {
                let mut body = b"[".to_vec();
                for j in 0..per_batch {
                    if j > 0 {
                        body.push(b',');
                    }
                    let i = b * per_batch + j;
                    body.extend_from_slice(&event(i, &format!("batch-{i}")));
                }
                body.push(b']');
                body
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let started = Instant::now();
    for _ in 0..conns {
        let (addr, next, batches) = (addr.to_owned(), next.clone(), batches.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr, KEY).await;
            let mut lat = Vec::new();
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches.len() {
                    return lat;
                }
                let t = Instant::now();
                let (status, answer) = conn.exchange("/v1/errors:batch", &batches[b]).await;
                assert_eq!(status, 200, "batch: status {status}");
                let answer: serde_json::Value = serde_json::from_slice(&answer).expect("JSON");
                assert_eq!(answer["accepted"], per_batch, "batch: {answer}");
                lat.push(t.elapsed());
            }
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("client"));
    }
    let count = batches.len() * per_batch;
    stats(count, started.elapsed(), lat)
}

/// Open loop at `rate` events/s for `n` events, over a pool of connections.
async fn fixed_load(addr: &str, n: usize, rate: f64, conns: usize) -> Stats {
    let bodies: Arc<Vec<Vec<u8>>> =
        Arc::new((0..n).map(|i| event(i, &format!("fixed-{i}"))).collect());
    let (started, sent) = post_open_loop(addr, KEY, "/v1/errors", bodies, rate, conns).await;
    let elapsed = started.elapsed();
    let mut lat = Vec::with_capacity(n);
    for p in sent {
        assert_eq!(p.status, 202, "fixed load: status {}", p.status);
        lat.push(p.answered - p.due);
    }
    stats(n, elapsed, lat)
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
    let raw = raw_baseline(&js, "rawbench.errors.production", n, 1024).await;

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

    // Warm up, then measure.
    let _ = flat_out(&http, 1_000, conns, 0.0).await;
    let ingest = flat_out(&http, n, conns, 0.0).await;
    // "p99 at half that load": half of the sustained ingest rate.
    let half = ingest.rate / 2.0;
    let fixed_n = ((half * 5.0) as usize).clamp(1_000, n);
    let fixed = fixed_load(&http, fixed_n, half, conns.max(64)).await;
    let raw_fixed = raw_fixed_load(&js, "rawbench.errors.production", fixed_n, half).await;
    let storm = flat_out(&http, n, conns, 0.9).await;
    let batch = batched(&http, n, conns.min(16), 50).await;

    println!();
    println!("| run                                    | events/s | p50 ms | p99 ms | vs raw |");
    println!("|----------------------------------------|---------:|-------:|-------:|-------:|");
    let row = |name: &str, s: &Stats| {
        println!(
            "| {name:<38} | {:>8.0} | {:>6.2} | {:>6.2} | {:>5.0}% |",
            s.rate,
            s.p50.as_secs_f64() * 1e3,
            s.p99.as_secs_f64() * 1e3,
            100.0 * s.rate / raw.rate
        );
    };
    row("raw JetStream publish (pipelined)", &raw);
    row("ingest HTTP, flat out", &ingest);
    row(&format!("ingest HTTP at {half:.0}/s (½ flat out)"), &fixed);
    row(&format!("raw JetStream publish at {half:.0}/s"), &raw_fixed);
    row("ingest HTTP, 90% duplicates", &storm);
    row("ingest HTTP :batch of 50 (per request)", &batch);
    println!();
    let ratio = ingest.rate / raw.rate;
    println!(
        "target: ingest >= 50% of raw            -> {:.0}% {}",
        ratio * 100.0,
        if ratio >= 0.5 { "MET" } else { "NOT MET" }
    );
    let offered_ok = fixed.rate >= half * 0.95;
    println!(
        "target: p99 <= 5 ms at half load ({half:.0}/s) -> {:.2} ms{} {}",
        fixed.p99.as_secs_f64() * 1e3,
        if offered_ok {
            ""
        } else {
            " (offered rate not sustained)"
        },
        if fixed.p99 <= Duration::from_millis(5) && offered_ok {
            "MET"
        } else {
            "NOT MET"
        }
    );
    println!(
        "target: 90% duplicates >= unique rate   -> {:.0} vs {:.0}/s {}",
        storm.rate,
        ingest.rate,
        if storm.rate >= ingest.rate {
            "MET"
        } else {
            "NOT MET"
        }
    );
    shutdown.trigger();
    let _ = app.await;
    drop(redis);
    drop(nats);
}
