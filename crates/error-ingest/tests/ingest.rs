//! error-ingest against a real nats-server and redis-server, built in-process.

use std::io::Write;
use std::time::Duration;

use async_nats::jetstream;
use faultline_core::config::{Config, Url};
use faultline_core::service::run_with;
use faultline_core::shutdown::Shutdown;
use faultline_core::ServiceName;
use faultline_error_ingest::auth::stored_form;
use faultline_error_ingest::IngestApp;
use faultline_proto::faultline::ingest::v1::{
    error_ingest_client::ErrorIngestClient, ReportRequest,
};
use faultline_testkit::http::{request, HttpResponse};
use faultline_testkit::{eventually, free_port, NatsServer, RedisServer};
use serde_json::{json, Value};

const KEY: &str = "test-key-for-acme";
const OTHER_KEY: &str = "test-key-for-other";

const SEED: &str = r#"{"error": "KeyError: 'user_id'", "stack": "Traceback (most recent call last):\n  File \"app.py\", line 42, in handler\nKeyError: 'user_id'", "timestamp": "2026-11-23T19:12:34Z", "context": {"file": "app.py", "line": 42, "request_id": "req-8f2a"}}"#;

struct Harness {
    nats: NatsServer,
    _redis: RedisServer,
    http: String,
    grpc: String,
    ns: String,
    js: jetstream::Context,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<i32>,
}

async fn start(ns: &str, tweak: impl FnOnce(&mut Config)) -> Harness {
    faultline_core::telemetry::init_for_tests();
    let nats = NatsServer::start().expect("nats-server");
    let redis = RedisServer::start().expect("redis-server");
    let mut cfg = Config {
        namespace: ns.into(),
        ..Config::default()
    };
    cfg.nats.url = Url::new(nats.url());
    cfg.nats.backoff_max = Duration::from_millis(500);
    cfg.redis.url = Url::new(redis.url());
    cfg.provision.on_start = true;
    cfg.gate.poll_interval = Duration::from_millis(100);
    let grpc = format!("127.0.0.1:{}", free_port());
    let http = format!("127.0.0.1:{}", free_port());
    cfg.services.error_ingest.grpc_addr = grpc.clone();
    cfg.services.error_ingest.admin_addr = format!("127.0.0.1:{}", free_port());
    cfg.ingest.http_addr = http.clone();
    cfg.ingest.api_keys = Some(format!(
        "{ns}:ci:{},other:web:{}",
        stored_form(KEY),
        stored_form(OTHER_KEY)
    ));
    cfg.ingest.publish_timeout = Duration::from_secs(1);
    tweak(&mut cfg);
    cfg.validate().expect("valid test config");
    let (shutdown, _) = Shutdown::new();
    let task = tokio::spawn(run_with(
        ServiceName::ErrorIngest,
        cfg,
        IngestApp::build,
        shutdown.clone(),
    ));
    eventually(Duration::from_secs(20), "error-ingest serving", || async {
        (faultline_core::healthcheck::probe(&grpc, "", Duration::from_secs(1)).await == 0)
            .then_some(())
    })
    .await
    .unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    Harness {
        nats,
        _redis: redis,
        http,
        grpc,
        ns: ns.into(),
        js: jetstream::new(client),
        shutdown,
        task,
    }
}

impl Harness {
    async fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
        request(&self.http, "POST", path, headers, body)
            .await
            .expect("HTTP")
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
        request(&self.http, "GET", path, headers, b"")
            .await
            .expect("HTTP")
    }

    async fn report(&self, body: &str) -> HttpResponse {
        let auth = format!("Bearer {KEY}");
        self.post(
            "/v1/errors",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
        .await
    }

    async fn messages(&self, stream: &str) -> u64 {
        let name = format!("{}_{stream}", self.ns.to_uppercase());
        self.js
            .get_stream(&name)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .messages
    }

    async fn all_messages(&self) -> u64 {
        let mut total = 0;
        for s in ["ERROR_REPORTS", "STAGING_ERRORS", "PRODUCTION_ERRORS"] {
            total += self.messages(s).await;
        }
        total
    }

    async fn stop(self) {
        self.shutdown.trigger();
        let code = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("stops")
            .unwrap();
        assert_eq!(code, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_json_is_accepted_and_duplicates_are_counted_not_stored() {
    let h = start("seedjson", |_| {}).await;
    let first = h.report(SEED).await;
    assert_eq!(first.status, 202, "{}", first.text());
    let a = first.json();
    assert_eq!(a["duplicate"], false);
    assert_eq!(a["count"], 1);
    assert_eq!(a["forwarded"], true);
    let fp = a["fingerprint"].as_str().unwrap().to_owned();
    assert!(fp.starts_with("v1:") && fp.len() == 35, "{fp}");
    assert_eq!(a["event_id"].as_str().unwrap().len(), 32);
    assert_eq!(h.messages("ERROR_REPORTS").await, 1);

    // The same error again, inside the dedup window.
    let second = h.report(SEED).await.json();
    assert_eq!(second["duplicate"], true);
    assert_eq!(second["count"], 2);
    assert_eq!(second["fingerprint"], fp.as_str());
    assert_eq!(
        h.messages("ERROR_REPORTS").await,
        1,
        "one message in the stream"
    );

    // The stored message is the seed's JSON plus the event id, with the
    // fingerprint and id in headers.
    let stream =
        h.js.get_stream(format!("{}_ERROR_REPORTS", h.ns.to_uppercase()))
            .await
            .unwrap();
    let msg = stream.get_raw_message(1).await.unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(stored["error"], "KeyError: 'user_id'");
    assert_eq!(stored["context"]["line"], 42);
    assert_eq!(stored["event_id"], a["event_id"]);
    let headers = msg.headers;
    assert_eq!(headers.get("Faultline-Fingerprint").unwrap().as_str(), fp);
    assert_eq!(
        headers.get("Nats-Msg-Id").unwrap().as_str(),
        format!("seedjson-none-{fp}-none")
    );

    // A new release makes the same error new again.
    let mut with_release: serde_json::Value = serde_json::from_str(SEED).unwrap();
    with_release["release"] = json!("2.0.0");
    let third = h.report(&with_release.to_string()).await.json();
    assert_eq!(third["duplicate"], false);
    assert_eq!(
        third["fingerprint"],
        fp.as_str(),
        "release is not part of the fingerprint"
    );
    assert_eq!(third["count"], 3);
    assert_eq!(h.messages("ERROR_REPORTS").await, 2);

    // Environments route to their stream.
    with_release["environment"] = json!("staging");
    let staged = h.report(&with_release.to_string()).await;
    assert_eq!(staged.status, 202, "{}", staged.text());
    assert_eq!(h.messages("STAGING_ERRORS").await, 1);
    with_release["environment"] = json!("qa");
    let unknown = h.report(&with_release.to_string()).await;
    assert_eq!(unknown.status, 422, "{}", unknown.text());
    assert_eq!(unknown.json()["error"]["code"], "unknown_environment");

    // The counters.
    let auth = format!("Bearer {KEY}");
    let stats = request(
        &h.http,
        "GET",
        &format!("/v1/fingerprints/{fp}"),
        &[("Authorization", &auth)],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(stats.status, 200, "{}", stats.text());
    let stats = stats.json();
    assert_eq!(stats["count"], 4);
    assert_eq!(stats["releases"], json!(["2.0.0"]));
    assert_eq!(stats["environments"], json!(["staging"]));
    assert_eq!(stats["last_event_id"].as_str().unwrap().len(), 32);
    let top = request(
        &h.http,
        "GET",
        "/v1/fingerprints?top=5",
        &[("X-API-Key", KEY)],
        b"",
    )
    .await
    .unwrap()
    .json();
    assert_eq!(top["fingerprints"][0]["fingerprint"], fp.as_str());
    let missing = request(
        &h.http,
        "GET",
        "/v1/fingerprints/v1:00",
        &[("X-API-Key", KEY)],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(missing.status, 404);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_nats_pub_path_still_works() {
    let h = start("natspub", |_| {}).await;
    // What the seed scripts do: `nats pub natspub.errors.staging '<json>' -H Nats-Msg-Id:...`.
    let client = async_nats::connect(h.nats.url()).await.unwrap();
    let js = jetstream::new(client);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "natspub-staging-3f1c0a");
    for _ in 0..2 {
        js.publish_with_headers("natspub.errors.staging", headers.clone(), SEED.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    assert_eq!(
        h.messages("STAGING_ERRORS").await,
        1,
        "the broker dedups the seed's ids"
    );
    // Downstream computes the fingerprint with the same library when the header is missing.
    let stream = js.get_stream("NATSPUB_STAGING_ERRORS").await.unwrap();
    let msg = stream.get_raw_message(1).await.unwrap();
    assert!(msg.headers.get("Faultline-Fingerprint").is_none());
    let event = faultline_event::parse(&msg.payload, &faultline_event::Limits::default()).unwrap();
    let via_http = h.report(SEED).await.json();
    assert_eq!(
        faultline_event::fingerprint(&event),
        via_http["fingerprint"].as_str().unwrap()
    );
    h.stop().await;
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_input_gets_its_status_and_publishes_nothing() {
    let h = start("badinput", |c| {
        c.ingest.rate_limit = 1.0;
        c.ingest.rate_burst = 40.0;
    })
    .await;
    let auth = format!("Bearer {KEY}");
    let json_h: [(&str, &str); 2] = [
        ("Authorization", &auth),
        ("Content-Type", "application/json"),
    ];
    let deep = format!(
        r#"{{"error": "x", "context": {{"a": {}1{}}}}}"#,
        "[".repeat(30),
        "]".repeat(30)
    );
    let huge = format!(r#"{{"error": "x", "stack": "{}"}}"#, "a".repeat(300 * 1024));
    let bomb = gzip(format!(r#"{{"error": "{}"}}"#, " ".repeat(50 * 1024 * 1024)).as_bytes());
    assert!(bomb.len() < 256 * 1024, "the bomb is small: {}", bomb.len());
    // (what, headers, body, status, code)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "malformed JSON",
            json_h.to_vec(),
            b"{\"error\": ".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "invalid UTF-8",
            json_h.to_vec(),
            b"{\"error\": \"\xff\xfe\"}".to_vec(),
            400,
            "invalid_utf8",
        ),
        (
            "wrong type",
            json_h.to_vec(),
            br#"{"error": 42}"#.to_vec(),
            422,
            "wrong_type",
        ),
        (
            "unknown field",
            json_h.to_vec(),
            br#"{"error": "x", "admin": true}"#.to_vec(),
            422,
            "unknown_field",
        ),
        (
            "missing message",
            json_h.to_vec(),
            br#"{"stack": "s"}"#.to_vec(),
            422,
            "missing_field",
        ),
        (
            "deep nesting",
            json_h.to_vec(),
            deep.into_bytes(),
            422,
            "too_deep",
        ),
        (
            "oversize body",
            json_h.to_vec(),
            huge.into_bytes(),
            413,
            "too_large",
        ),
        (
            "gzip bomb",
            vec![("Authorization", &auth), ("Content-Encoding", "gzip")],
            bomb,
            413,
            "too_large",
        ),
        (
            "bad gzip",
            vec![("Authorization", &auth), ("Content-Encoding", "gzip")],
            b"not gzip".to_vec(),
            400,
            "bad_encoding",
        ),
        (
            "unsupported encoding",
            vec![("Authorization", &auth), ("Content-Encoding", "br")],
            SEED.as_bytes().to_vec(),
            415,
            "unsupported_encoding",
        ),
        (
            "not JSON",
            vec![("Authorization", &auth), ("Content-Type", "text/html")],
            SEED.as_bytes().to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "missing key",
            vec![],
            SEED.as_bytes().to_vec(),
            401,
            "missing_api_key",
        ),
        (
            "wrong key",
            vec![("Authorization", "Bearer not-a-key")],
            SEED.as_bytes().to_vec(),
            401,
            "invalid_api_key",
        ),
        (
            "another project's key",
            vec![("X-API-Key", OTHER_KEY)],
            SEED.as_bytes().to_vec(),
            403,
            "wrong_project",
        ),
    ];
    for (what, headers, body, status, code) in &cases {
        let resp = h.post("/v1/errors", headers, body).await;
        assert_eq!(resp.status, *status, "{what}: {}", resp.text());
        assert_eq!(
            resp.json()["error"]["code"],
            *code,
            "{what}: {}",
            resp.text()
        );
        if *status == 401 {
            assert_eq!(resp.header("www-authenticate"), Some("Bearer"), "{what}");
        }
    }
    assert_eq!(h.all_messages().await, 0, "nothing was published");

    // A gzip body within the limits is fine.
    let ok = h
        .post(
            "/v1/errors",
            &[("Authorization", &auth), ("Content-Encoding", "gzip")],
            &gzip(SEED.as_bytes()),
        )
        .await;
    assert_eq!(ok.status, 202, "{}", ok.text());

    // Over the rate limit: 429 with Retry-After, nothing published.
    let before = h.all_messages().await;
    let mut limited = None;
    for i in 0..60 {
        let body = format!(r#"{{"error": "rate {i}", "fingerprint": ["r{i}"]}}"#);
        let resp = h.report(&body).await;
        if resp.status == 429 {
            limited = Some((i, resp));
            break;
        }
        assert_eq!(resp.status, 202, "{}", resp.text());
    }
    let (i, resp) = limited.expect("the limit is reached");
    assert!(resp.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(resp.json()["error"]["code"], "rate_limited");
    assert_eq!(h.all_messages().await, before + i as u64);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_have_a_result_per_event_and_the_cap_only_counts() {
    let h = start("batch", |c| c.ingest.fingerprint_cap = 3).await;
    let batch = json!([
        {"error": "one", "environment": "production"},
        {"error": 5},
        {"error": "two", "environment": "production"},
    ]);
    let auth = format!("Bearer {KEY}");
    let resp = h
        .post(
            "/v1/errors:batch",
            &[("Authorization", &auth)],
            batch.to_string().as_bytes(),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["rejected"], 1);
    assert_eq!(body["results"][0]["status"], 202);
    assert_eq!(body["results"][1]["status"], 422);
    assert_eq!(body["results"][1]["error"]["code"], "wrong_type");
    assert_eq!(body["results"][2]["index"], 2);
    assert_eq!(h.messages("PRODUCTION_ERRORS").await, 2);
    let wrapped = json!({"events": [{"error": "three"}]});
    let resp = h
        .post(
            "/v1/errors:batch",
            &[("Authorization", &auth)],
            wrapped.to_string().as_bytes(),
        )
        .await;
    assert_eq!(resp.json()["accepted"], 1);
    let too_many: Vec<_> = (0..101)
        .map(|i| json!({"error": format!("e{i}")}))
        .collect();
    let resp = h
        .post(
            "/v1/errors:batch",
            &[("Authorization", &auth)],
            json!(too_many).to_string().as_bytes(),
        )
        .await;
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert_eq!(resp.json()["error"]["code"], "batch_too_large");

    // Counting is group-committed: the events of a batch and of concurrent
    // requests are counted together, and each still gets its own count.
    let same: Vec<_> = (0..60)
        .map(|i| json!({"error": "grouped", "context": {"request_id": format!("r{i}")}}))
        .collect();
    let body = json!(same).to_string();
    let headers = [("Authorization", auth.as_str())];
    let (first, second) = tokio::join!(
        h.post("/v1/errors:batch", &headers, body.as_bytes()),
        h.post("/v1/errors:batch", &headers, body.as_bytes()),
    );
    let mut counts = Vec::new();
    let mut fingerprint = None;
    for resp in [first, second] {
        let body = resp.json();
        assert_eq!(body["accepted"], 60, "{body}");
        for r in body["results"].as_array().unwrap() {
            counts.push(r["count"].as_u64().expect("counted"));
            fingerprint = r["fingerprint"].as_str().map(str::to_owned);
        }
    }
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=120).collect::<Vec<u64>>(),
        "one count per event, none twice"
    );
    let fp = fingerprint.unwrap();
    let stats = h
        .get(&format!("/v1/fingerprints/{fp}"), &headers)
        .await
        .json();
    assert_eq!(stats["count"], 120, "{stats}");
    // One occurrence that Redis cannot count (its key holds another type)
    // fails alone: stored, `count: null`; the rest of its group is counted.
    let mut redis = redis::Client::open(h._redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let poisoned = h
        .report(r#"{"error": "poisoned counter", "release": "p1"}"#)
        .await
        .json();
    let poisoned_fp = poisoned["fingerprint"].as_str().unwrap().to_owned();
    let _: () = redis::cmd("SET")
        .arg(format!("faultline:{}:fp:{poisoned_fp}", h.ns))
        .arg("not a hash")
        .query_async(&mut redis)
        .await
        .unwrap();
    let pair = json!([
        {"error": "poisoned counter", "release": "p2"},
        {"error": "a healthy neighbour"},
    ])
    .to_string();
    let body = h
        .post("/v1/errors:batch", &headers, pair.as_bytes())
        .await
        .json();
    assert_eq!(body["accepted"], 2, "{body}");
    assert_eq!(body["results"][0]["fingerprint"], poisoned_fp.as_str());
    assert_eq!(body["results"][0]["count"], Value::Null, "{body}");
    assert_eq!(body["results"][0]["forwarded"], true, "{body}");
    assert_eq!(body["results"][1]["count"], 1, "{body}");
    let top = h.get("/v1/fingerprints?top=1", &headers).await.json();
    assert_eq!(top["fingerprints"][0]["fingerprint"], fp.as_str(), "{top}");
    assert_eq!(top["fingerprints"][0]["count"], 120, "{top}");

    // The cap: 3 per window forwarded (distinct releases so JetStream would
    // keep each), the rest only counted.
    let mut forwarded = 0;
    for i in 0..5 {
        let a = h
            .report(&format!(r#"{{"error": "capped", "release": "r{i}"}}"#))
            .await
            .json();
        assert_eq!(a["count"], i + 1);
        if a["forwarded"] == true {
            forwarded += 1;
        }
    }
    assert_eq!(forwarded, 3);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_report_and_report_batch() {
    let h = start("grpc", |_| {}).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", h.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ErrorIngestClient::new(channel);
    let req = |json: &str, key: Option<&str>| {
        let mut r = tonic::Request::new(ReportRequest {
            event_json: json.as_bytes().to_vec(),
        });
        if let Some(k) = key {
            r.metadata_mut().insert("x-api-key", k.parse().unwrap());
        }
        r
    };
    let ok = client
        .report(req(SEED, Some(KEY)))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.fingerprint.starts_with("v1:"));
    assert_eq!(ok.count, 1);
    let dup = client
        .report(req(SEED, Some(KEY)))
        .await
        .unwrap()
        .into_inner();
    assert!(dup.duplicate);
    assert_eq!(dup.count, 2);
    let err = client.report(req(SEED, None)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let err = client.report(req(SEED, Some(OTHER_KEY))).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let err = client
        .report(req(r#"{"error": "x", "nope": 1}"#, Some(KEY)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("unknown field `nope`"),
        "{}",
        err.message()
    );

    let items = vec![
        ReportRequest {
            event_json: br#"{"error": "first of the batch"}"#.to_vec(),
        },
        ReportRequest {
            event_json: b"{".to_vec(),
        },
        ReportRequest {
            event_json: br#"{"error": "last of the batch"}"#.to_vec(),
        },
    ];
    let mut stream_req = tonic::Request::new(futures_util::stream::iter(items));
    stream_req
        .metadata_mut()
        .insert("authorization", format!("Bearer {KEY}").parse().unwrap());
    let batch = client.report_batch(stream_req).await.unwrap().into_inner();
    let codes: Vec<i32> = batch.results.iter().map(|r| r.code).collect();
    assert_eq!(codes, [0, tonic::Code::InvalidArgument as i32, 0]);
    assert_eq!(h.messages("ERROR_REPORTS").await, 3);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_gives_503_and_ingest_recovers_by_itself() {
    let mut h = start("natsdown", |_| {}).await;
    assert_eq!(h.report(SEED).await.status, 202);
    h.nats.stop();
    let resp = h.report(r#"{"error": "while NATS is down"}"#).await;
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert!(resp.header("retry-after").is_some());
    assert_eq!(resp.json()["error"]["code"], "unavailable");
    h.nats.restart().expect("restart nats");
    let recovered = eventually(Duration::from_secs(20), "ingest recovers", || async {
        let r = h.report(r#"{"error": "after the restart"}"#).await;
        (r.status == 202).then_some(r)
    })
    .await
    .unwrap();
    assert_eq!(recovered.json()["count"], 1);
    // The client retries what got 503. Whether or not the first attempt
    // reached the stream in the end (a publish buffered during the outage),
    // the message id makes it one message.
    let retried = h.report(r#"{"error": "while NATS is down"}"#).await;
    assert_eq!(retried.status, 202, "{}", retried.text());
    assert_eq!(
        retried.json()["count"],
        1,
        "the refused attempt was not counted"
    );
    let client = async_nats::connect(h.nats.url()).await.unwrap();
    h.js = jetstream::new(client);
    assert_eq!(h.messages("ERROR_REPORTS").await, 3);
    h.stop().await;
}

/// The top set keeps the largest counts; once full, a fingerprint below its
/// lowest score stays out, and one that climbs above it gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_top_set_keeps_the_largest_counts_once_full() {
    use faultline_core::names::{Names, Namespace};
    use faultline_error_ingest::counter::{Counter, Occurrence};

    let redis = RedisServer::start().expect("redis-server");
    let conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();
    let mut conn2 = conn.clone();
    let names = Names::new(Namespace::new("toptest").unwrap());
    let counter = Counter::with_top_keep(conn, names, Duration::from_secs(600), 3);
    let record = |fp: &'static str, times: u64| {
        let counter = counter.clone();
        async move {
            let mut last = 0;
            for _ in 0..times {
                last = counter
                    .record(Occurrence {
                        fingerprint: fp,
                        event_id: "e",
                        environment: Some("production"),
                        release: None,
                        at_unix_ms: 1,
                    })
                    .await
                    .unwrap();
            }
            last
        }
    };
    let top = |n| {
        let counter = counter.clone();
        async move {
            let mut t: Vec<(String, u64)> = counter
                .top(n)
                .await
                .unwrap()
                .into_iter()
                .map(|s| (s.fingerprint, s.count))
                .collect();
            t.sort();
            t
        }
    };
    assert_eq!(record("a", 5).await, 5);
    assert_eq!(record("b", 4).await, 4);
    assert_eq!(record("c", 3).await, 3);
    // d stays out of the full set, but its hash counts every occurrence.
    assert_eq!(record("d", 2).await, 2);
    let want = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect()
    };
    assert_eq!(top(10).await, want(&[("a", 5), ("b", 4), ("c", 3)]));
    // A tie with the lowest (c, 3) does not push it out.
    record("e", 3).await;
    assert_eq!(top(10).await, want(&[("a", 5), ("b", 4), ("c", 3)]));
    // e climbs past the lowest: it gets in and c is trimmed off.
    assert_eq!(record("e", 1).await, 4);
    assert_eq!(top(10).await, want(&[("a", 5), ("b", 4), ("e", 4)]));
    assert_eq!(counter.get("d").await.unwrap().unwrap().count, 2);
    // When a's hash expires, its old score leaves the set with the first new
    // occurrence instead of ranking a fingerprint seen once.
    let _: () = redis::cmd("DEL")
        .arg(Names::new(Namespace::new("toptest").unwrap()).fingerprint_key("a"))
        .query_async(&mut conn2)
        .await
        .unwrap();
    assert_eq!(record("a", 1).await, 1);
    assert_eq!(top(10).await, want(&[("b", 4), ("e", 4)]));
}
