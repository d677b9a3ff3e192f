//! kill -9 of error-ingest under load, with a client that retries: every
//! event that got a 202 is in the stream exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use faultline_core::healthcheck::exit;
use faultline_core::ServiceName::ErrorIngest;
use faultline_testkit::http::request;
use faultline_tests::{Stack, API_KEY};
use tokio::sync::Mutex;

const EVENTS: usize = 3000;
const CLIENTS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_and_duplicates_nothing_that_was_acknowledged() {
    let stack = Stack::start("crash");
    let init = stack.run("faultline", &["init"], &[]);
    assert_eq!(init.code, Some(0), "{}", init.text);
    let mut ingest = stack.spawn(ErrorIngest);
    stack
        .wait_probe(ErrorIngest, exit::SERVING, Duration::from_secs(20))
        .await;

    let addr = stack.ingest_http_addr();
    let accepted: Arc<Mutex<BTreeMap<usize, String>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (addr, accepted, next) = (addr.clone(), accepted.clone(), next.clone());
        clients.push(tokio::spawn(async move {
            let auth = format!("Bearer {API_KEY}");
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= EVENTS {
                    return;
                }
                // Distinct fingerprints: each event is its own message.
                let body = format!(
                    r#"{{"event_id": "evt-{i}", "error": "crash test", "fingerprint": ["crash-{i}"]}}"#
                );
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    assert!(attempts < 400, "event {i} never accepted");
                    match request(&addr, "POST", "/v1/errors", &[("Authorization", &auth)], body.as_bytes()).await {
                        Ok(r) if r.status == 202 => {
                            let fp = r.json()["fingerprint"].as_str().unwrap().to_owned();
                            accepted.lock().await.insert(i, fp);
                            break;
                        }
                        // 503: the server is going down; 429: the key's rate
                        // limit (this test sends as fast as it can). Both retry.
                        Ok(r) => assert!(
                            r.status == 503 || r.status == 429,
                            "unexpected {} for event {i}: {}",
                            r.status,
                            r.text()
                        ),
                        Err(_) => {} // the server is down: retry
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }

    // Kill it mid-stream, then bring it back.
    faultline_testkit::eventually(Duration::from_secs(30), "some events accepted", || async {
        (accepted.lock().await.len() >= EVENTS / 10).then_some(())
    })
    .await
    .unwrap();
    ingest.kill();
    let at_kill = accepted.lock().await.len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ingest = stack.spawn(ErrorIngest);
    for c in clients {
        c.await.unwrap();
    }
    let accepted = accepted.lock().await.clone();
    assert_eq!(accepted.len(), EVENTS);
    eprintln!("killed after {at_kill} of {EVENTS} acknowledged events");
    assert!(at_kill < EVENTS, "the kill happened under load");

    // Read the whole stream: each acknowledged event exactly once.
    let client = async_nats::connect(stack.nats.url()).await.unwrap();
    let js = jetstream::new(client);
    let stream = js.get_stream("CRASH_ERROR_REPORTS").await.unwrap();
    let state = stream.get_info().await.unwrap().state;
    let total = state.messages as usize;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for seq in state.first_sequence..=state.last_sequence {
        let msg = stream.get_raw_message(seq).await.unwrap();
        let ev: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
        *seen
            .entry(ev["event_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "stored twice: {dupes:?}");
    let want: BTreeSet<String> = (0..EVENTS).map(|i| format!("evt-{i}")).collect();
    let have: BTreeSet<String> = seen.keys().cloned().collect();
    let missing: Vec<_> = want.difference(&have).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    assert_eq!(total, EVENTS);
}
