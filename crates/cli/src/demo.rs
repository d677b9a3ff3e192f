//! `faultline demo`: sends a few realistic errors (several languages, a
//! duplicate, one planted injection) through error-ingest and shows each
//! one's way through the pipeline as it happens: ingested → rejected or
//! passed → task → status → result. Run by `make run` next to the example
//! agent, which prints its claims.

// What it prints is for the person watching the demo.
#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;
use std::time::Duration;

use faultline_core::config::Config;
use faultline_core::metrics::Metrics;
use faultline_core::names::Names;
use faultline_proto::faultline::ingest::v1::error_ingest_client::ErrorIngestClient;
use faultline_proto::faultline::ingest::v1::ReportRequest;
use futures_util::StreamExt;
use serde_json::Value;

/// The sample events, shipped with the binary.
const EVENTS: &str = include_str!("demo_events.json");

fn cut(s: &str, n: usize) -> String {
    let line = s.lines().next().unwrap_or_default();
    let mut out: String = line.chars().filter(|c| !c.is_control()).take(n).collect();
    if line.chars().count() > n {
        out.push('…');
    }
    out
}

fn short_fp(fp: &str) -> String {
    fp.chars().take(11).collect()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("-")
}

/// Runs the demo; the exit code.
pub async fn run(cfg: &Config, api_key: &str, wait: Duration) -> i32 {
    let events: Vec<Value> = serde_json::from_str(EVENTS).expect("the shipped events parse");
    let names = Names::new(cfg.namespace());
    let ns = names.namespace().as_str().to_owned();
    let nats =
        match faultline_core::nats::connect(&cfg.nats, "faultline-demo", &Metrics::new()).await {
            Ok(n) => n,
            Err(err) => {
                eprintln!("faultline demo: {err}");
                return faultline_core::service::EXIT_UNAVAILABLE;
            }
        };
    let mut subs = Vec::new();
    for subject in [
        format!("{ns}.security.rejected"),
        format!("{ns}.tasks.>"),
        format!("{ns}.investigation.status.>"),
        format!("{ns}.results.*.*"),
    ] {
        match nats.client.subscribe(subject.clone()).await {
            Ok(s) => subs.push(s),
            Err(err) => {
                eprintln!("faultline demo: cannot subscribe to {subject}: {err}");
                return faultline_core::service::EXIT_UNAVAILABLE;
            }
        }
    }
    let mut feed = futures_util::stream::select_all(subs);

    let addr = format!("http://{}", cfg.services.error_ingest.grpc_addr);
    let mut ingest = match tonic::transport::Endpoint::from_shared(addr.clone())
        .map(|e| e.connect_timeout(Duration::from_secs(5)))
    {
        Ok(e) => match e.connect().await {
            Ok(ch) => ErrorIngestClient::new(ch),
            Err(err) => {
                eprintln!("faultline demo: cannot reach error-ingest at {addr}: {err}");
                return faultline_core::service::EXIT_UNAVAILABLE;
            }
        },
        Err(err) => {
            eprintln!("faultline demo: bad address {addr}: {err}");
            return 1;
        }
    };

    println!("demo: sending {} errors from five languages (one repeated, one carrying a prompt injection)", events.len());
    let mut fingerprints = BTreeSet::new();
    for e in &events {
        let mut req = tonic::Request::new(ReportRequest {
            event_json: e.to_string().into_bytes(),
        });
        if let Ok(v) = format!("Bearer {api_key}").parse() {
            req.metadata_mut().insert("authorization", v);
        }
        match ingest.report(req).await {
            Ok(r) => {
                let r = r.into_inner();
                fingerprints.insert(r.fingerprint.clone());
                println!(
                    "  ingested  {}  {:<48} count {}{}",
                    short_fp(&r.fingerprint),
                    cut(str_at(e, "/error"), 48),
                    r.count,
                    if r.duplicate {
                        "  (duplicate: counted, no new task)"
                    } else {
                        ""
                    }
                );
            }
            Err(status) => println!("  refused   {:?}: {}", status.code(), status.message()),
        }
    }

    // Each distinct error ends rejected or with a result.
    let mut open: BTreeSet<String> = fingerprints;
    let deadline = tokio::time::Instant::now() + wait;
    while !open.is_empty() {
        let msg = match tokio::time::timeout_at(deadline, feed.next()).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(_) => {
                println!(
                    "demo: {} error(s) still in flight after {wait:?} (is the agent running?)",
                    open.len()
                );
                break;
            }
        };
        let v: Value = serde_json::from_slice(&msg.payload).unwrap_or(Value::Null);
        let subject = msg.subject.as_str();
        if subject.ends_with(".security.rejected") {
            let fp = str_at(&v, "/fingerprint").to_owned();
            let rule = v
                .pointer("/explanation/rules/0/id")
                .and_then(Value::as_str)
                .unwrap_or("model");
            println!(
                "  REJECTED  {}  score {:.2}, rule {rule}: {:?}  (held for review: faultline rejections)",
                short_fp(&fp),
                v.pointer("/verdict/score").and_then(Value::as_f64).unwrap_or(0.0),
                cut(str_at(&v, "/snippet"), 60)
            );
            open.remove(&fp);
        } else if subject.contains(".tasks.") {
            println!(
                "  passed    {}  → task {} ({}), filter {}",
                short_fp(str_at(&v, "/fingerprint")),
                str_at(&v, "/id"),
                str_at(&v, "/type"),
                str_at(&v, "/context/filter/decision"),
            );
        } else if subject.contains(".investigation.status.") {
            println!(
                "  status    task {}  {} by {}: {}",
                str_at(&v, "/task_id"),
                str_at(&v, "/status"),
                str_at(&v, "/agent_id"),
                cut(str_at(&v, "/findings"), 60)
            );
        } else {
            let fp = str_at(&v, "/fingerprint").to_owned();
            println!(
                "  result    task {}  {} by {}{}",
                str_at(&v, "/task_id"),
                str_at(&v, "/outcome"),
                str_at(&v, "/agent_id"),
                if v.get("flagged").and_then(Value::as_bool) == Some(true) {
                    "  FLAGGED by the filter"
                } else {
                    ""
                }
            );
            open.remove(&fp);
        }
    }
    let admin = &cfg.services.result_publisher.admin_addr;
    println!();
    println!("where to look next:");
    println!("  results:         curl -s http://{admin}/v1/results | jq");
    println!("  live feed (SSE): curl -N http://{admin}/v1/watch");
    println!("  rejections:      target/debug/faultline rejections");
    println!(
        "  task queue:      curl -s http://{}/api/tasks | jq",
        cfg.services.task_dispatcher.admin_addr
    );
    println!("  fingerprints:    curl -s -H \"Authorization: Bearer $(cat .run/api-key)\" 'http://{}/v1/fingerprints?top=10' | jq", cfg.ingest.http_addr);
    i32::from(!open.is_empty())
}
