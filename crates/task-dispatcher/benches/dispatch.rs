//! task-dispatcher benchmark, with its own nats-server and redis-server.
//!
//! For 1, 8 and 32 agents it measures tasks per second (claim + complete,
//! each over gRPC) and the claim latency p50/p99 while tasks are waiting, and
//! in the same run the raw baseline: the same number of workers pulling one
//! message at a time from a JetStream pull consumer and double-acking it.
//!
//! `cargo bench -p faultline-task-dispatcher --bench dispatch`
//! (`BENCH_TASKS`, default 4000 per run).

#![allow(clippy::print_stdout, clippy::cast_precision_loss)] // a bench binary prints its table

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull};
use faultline_core::config::{Config, Url};
use faultline_core::provision::{declared_streams, provision, Mode};
use faultline_core::service::run_with;
use faultline_core::shutdown::Shutdown;
use faultline_core::{Names, Namespace, ServiceName};
use faultline_proto::faultline::dispatch::v1 as pb;
use faultline_task_dispatcher::DispatcherApp;
use faultline_testkit::bench::{env_usize, percentile};
use faultline_testkit::{eventually, free_port, NatsServer, RedisServer};
use futures_util::StreamExt;
use pb::task_dispatcher_client::TaskDispatcherClient;
use tokio::sync::Mutex;
use tonic::transport::Channel;

struct Run {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

fn task_body(i: usize) -> Vec<u8> {
    serde_json::json!({
        "task_id": format!("b{i}"),
        "title": "Investigate the failing checkout",
        "error": "KeyError: 'cart' in checkout/views.py line 41",
    })
    .to_string()
    .into_bytes()
}

async fn publish_all(js: &jetstream::Context, subject: &str, from: usize, n: usize) {
    let mut acks = Vec::with_capacity(n);
    for i in from..from + n {
        acks.push(
            js.publish(subject.to_owned(), task_body(i).into())
                .await
                .unwrap(),
        );
        if acks.len() >= 512 {
            for a in acks.drain(..) {
                a.await.unwrap();
            }
        }
    }
    for a in acks {
        a.await.unwrap();
    }
}

/// Raw: `workers` pull one message each and double-ack it.
async fn raw(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
    n: usize,
    workers: usize,
) -> Run {
    publish_all(js, subject, 0, n).await;
    let s = js.get_stream(stream).await.unwrap();
    let name = format!("raw{workers}");
    let consumer = s
        .create_consumer(pull::Config {
            durable_name: Some(name.clone()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let start = Instant::now();
    let mut hs = Vec::new();
    for _ in 0..workers {
        let (consumer, done, lat) = (consumer.clone(), done.clone(), lat.clone());
        hs.push(tokio::spawn(async move {
            while done.load(std::sync::atomic::Ordering::Relaxed) < n {
                let t = Instant::now();
                let mut batch = consumer
                    .fetch()
                    .max_messages(1)
                    .expires(Duration::from_millis(200))
                    .messages()
                    .await
                    .unwrap();
                let Some(Ok(m)) = batch.next().await else {
                    continue;
                };
                let got = t.elapsed();
                m.double_ack().await.unwrap();
                lat.lock().await.push(got);
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    s.delete_consumer(&name).await.unwrap();
    let mut lat = lat.lock().await.clone();
    lat.sort();
    Run {
        rate,
        p50: percentile(&lat, 0.5),
        p99: percentile(&lat, 0.99),
    }
}

/// The dispatcher: `agents` claim and complete until `n` tasks are done.
async fn dispatched(
    js: &jetstream::Context,
    grpc: &str,
    subject: &str,
    from: usize,
    n: usize,
    agents: usize,
) -> Run {
    publish_all(js, subject, from, n).await;
    let channel = Channel::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let start = Instant::now();
    let mut hs = Vec::new();
    for a in 0..agents {
        let mut c = TaskDispatcherClient::new(channel.clone());
        let (done, lat) = (done.clone(), lat.clone());
        let id = format!("bench-{from}-{a}");
        hs.push(tokio::spawn(async move {
            c.register_agent(pb::RegisterAgentRequest {
                agent_id: id.clone(),
                name: id.clone(),
                capabilities: vec![],
                max_tasks: 1,
            })
            .await
            .unwrap();
            while done.load(std::sync::atomic::Ordering::Relaxed) < n {
                let t = Instant::now();
                let r = c
                    .claim(pb::ClaimRequest {
                        agent_id: id.clone(),
                        wait_ms: 200,
                        types: vec![],
                    })
                    .await
                    .unwrap()
                    .into_inner();
                let Some(task) = r.task else { continue };
                let got = t.elapsed();
                c.complete(pb::CompleteRequest {
                    lease: Some(pb::Lease {
                        task_id: task.id,
                        epoch: r.epoch,
                    }),
                    agent_id: id.clone(),
                    result_json: "{}".into(),
                })
                .await
                .unwrap();
                lat.lock().await.push(got);
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let mut lat = lat.lock().await.clone();
    lat.sort();
    Run {
        rate,
        p50: percentile(&lat, 0.5),
        p99: percentile(&lat, 0.99),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    // TEST_LOG=1 RUST_LOG=warn shows the dispatcher's logs.
    faultline_core::telemetry::init_for_tests();
    let n = env_usize("BENCH_TASKS", 4000);
    let nats = NatsServer::start().expect("nats-server");
    let redis = RedisServer::start().expect("redis-server");
    let client = async_nats::connect(nats.url()).await.expect("nats");
    let js = jetstream::new(client);
    let cfg = Config::default();
    let raw_names = Names::new(Namespace::new("rawbench").unwrap());
    provision(
        &js,
        &declared_streams(&raw_names, &cfg.provision).unwrap(),
        Mode::Apply,
    )
    .await
    .unwrap();

    let mut cfg = Config {
        namespace: "bench".into(),
        ..Config::default()
    };
    cfg.nats.url = Url::new(nats.url());
    cfg.redis.url = Url::new(redis.url());
    cfg.provision.on_start = true;
    cfg.services.task_dispatcher.depends_on = vec![];
    let grpc = format!("127.0.0.1:{}", free_port());
    cfg.services.task_dispatcher.grpc_addr = grpc.clone();
    cfg.services.task_dispatcher.admin_addr = format!("127.0.0.1:{}", free_port());
    cfg.validate().expect("bench config");
    let (shutdown, _) = Shutdown::new();
    let _app = tokio::spawn(run_with(
        ServiceName::TaskDispatcher,
        cfg,
        DispatcherApp::build,
        shutdown.clone(),
    ));
    eventually(Duration::from_secs(30), "dispatcher serving", || async {
        (faultline_core::healthcheck::probe(&grpc, "", Duration::from_secs(1)).await == 0)
            .then_some(())
    })
    .await
    .unwrap();
    println!("task-dispatcher benchmark: {n} tasks per run, nats-server and redis-server on 127.0.0.1, dispatcher in-process");
    // Warm-up.
    let _ = dispatched(&js, &grpc, "bench.tasks.investigation", 10_000_000, 200, 4).await;

    println!();
    println!("| agents | raw pull+ack/s | dispatcher tasks/s | ratio | raw p50/p99 ms | claim p50/p99 ms |");
    println!("|-------:|---------------:|-------------------:|------:|---------------:|-----------------:|");
    let mut verdicts = Vec::new();
    for (k, agents) in [1usize, 8, 32].into_iter().enumerate() {
        let r = raw(
            &js,
            "RAWBENCH_TASKS",
            "rawbench.tasks.investigation",
            n,
            agents,
        )
        .await;
        let d = dispatched(
            &js,
            &grpc,
            "bench.tasks.investigation",
            (k + 1) * 1_000_000,
            n,
            agents,
        )
        .await;
        let ratio = d.rate / r.rate;
        println!(
            "| {agents:>6} | {:>14.0} | {:>18.0} | {:>4.0}% | {:>6.2} / {:>5.2} | {:>7.2} / {:>6.2} |",
            r.rate,
            d.rate,
            ratio * 100.0,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            d.p50.as_secs_f64() * 1e3,
            d.p99.as_secs_f64() * 1e3,
        );
        verdicts.push((agents, ratio, d.p99));
    }
    println!();
    for (agents, ratio, p99) in verdicts {
        println!(
            "target: {agents:>2} agents >= 25% of raw pull+ack -> {:.0}% {}",
            ratio * 100.0,
            if ratio >= 0.25 { "MET" } else { "NOT MET" }
        );
        if agents == 8 {
            println!(
                "target: p99 claim <= 10 ms with 8 agents -> {:.2} ms {}",
                p99.as_secs_f64() * 1e3,
                if p99 <= Duration::from_millis(10) {
                    "MET"
                } else {
                    "NOT MET"
                }
            );
        }
    }
    shutdown.trigger();
}
