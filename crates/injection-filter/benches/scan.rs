//! Scan throughput and latency by event size: `cargo bench -p faultline-injection-filter --bench scan`.
//!
//! For 256 B, 2 KiB, 8 KiB, 64 KiB and 256 KiB of generated log-like text (stack traces, JSON
//! log lines, access logs, scary-but-benign words, ids, a little non-ASCII) it prints events/s,
//! p50 and p99 of `scan_text`, the time per byte, and the time of one `str::contains` pass over
//! the same bytes as a floor. The last lines give the per-byte time of the largest size over the
//! smallest (≈ 1 means linear) and the worst ratio to the `contains` pass.
//! `SCAN_BENCH_SECONDS` (default 1.5) sets the time spent per size, `SCAN_BENCH_SIZES` (bytes,
//! comma-separated) the sizes.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use faultline_injection_filter::scan_text;

const SIZES: &[usize] = &[256, 2 << 10, 8 << 10, 64 << 10, 256 << 10];
/// Distinct texts per size, so caches do not see the same bytes every call.
const VARIANTS: usize = 16;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const LEVELS: &[&str] = &["INFO", "WARN", "ERROR", "DEBUG"];
const SERVICES: &[&str] = &["orders", "billing", "auth", "gateway", "search", "worker-3"];
const MESSAGES: &[&str] = &[
    "failed to process order {n}: connection reset by peer",
    "ignored {n} duplicate packets from 10.0.{n}.7",
    "override system config rules from /etc/app/override.yaml",
    "password incorrect for user admin from 192.168.{n}.12",
    "retrying request to https://api.example.com/v1/items?id={n}&q=caf%C3%A9 (attempt {n})",
    "sudo: pam_unix(sudo:session): session opened for user root by deploy(uid=0)",
    "cache miss for key user:{n}:profile, falling back to database",
    "job {n} exceeded its deadline; you can raise timeout_seconds in the worker config",
    "Benutzer {n} konnte nicht angemeldet werden: Zeitüberschreitung",
    "処理に失敗しました: タイムアウト ({n} ms)",
    "token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJl rejected: expired",
    "checksum mismatch: expected 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Please contact your administrator to reset the password for this account.",
];
const FRAMES: &[&str] = &[
    "    at com.example.orders.OrderService.process(OrderService.java:{n})",
    "    at org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:{n})",
    "  File \"/srv/app/handlers/orders.py\", line {n}, in handle\n    result = self.repo.save(order)",
    "    at processTicksAndRejections (node:internal/process/task_queues:{n}:5)",
    "   {n}: std::panicking::begin_panic_handler at /rustc/library/std/src/panicking.rs:{n}:5",
];

fn fill(rng: &mut Rng, template: &str, out: &mut String) {
    let mut parts = template.split("{n}");
    out.push_str(parts.next().unwrap_or_default());
    for p in parts {
        out.push_str(&(rng.below(9000) + 10).to_string());
        out.push_str(p);
    }
}

fn line(rng: &mut Rng, out: &mut String) {
    match rng.below(6) {
        0 | 1 => {
            out.push_str(&format!(
                "2025-11-{:02}T{:02}:{:02}:{:02}.{:03}Z {} [{}] ",
                rng.below(28) + 1,
                rng.below(24),
                rng.below(60),
                rng.below(60),
                rng.below(1000),
                rng.pick(LEVELS),
                rng.pick(SERVICES)
            ));
            let m = rng.pick(MESSAGES);
            fill(rng, m, out);
        }
        2 => {
            let m = rng.pick(FRAMES);
            fill(rng, m, out);
        }
        3 => {
            out.push_str(&format!(
                "{{\"ts\":\"2025-11-23T10:{:02}:{:02}Z\",\"level\":\"{}\",\"service\":\"{}\",\"msg\":\"",
                rng.below(60),
                rng.below(60),
                rng.pick(LEVELS).to_lowercase(),
                rng.pick(SERVICES)
            ));
            let m = rng.pick(MESSAGES);
            fill(rng, m, out);
            out.push_str(&format!(
                "\",\"request_id\":\"{:016x}\",\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64)\"}}",
                rng.next()
            ));
        }
        4 => {
            out.push_str(&format!(
                "10.0.{}.{} - - [23/Nov/2025:10:01:02 +0000] \"GET /api/v1/orders/{}?expand=items HTTP/1.1\" {} {} \"-\" \"curl/8.5.0\"",
                rng.below(255),
                rng.below(255),
                rng.below(100_000),
                [200, 404, 500, 502][rng.below(4)],
                rng.below(20_000)
            ));
        }
        _ => {
            out.push_str("Traceback (most recent call last):\n");
            let m = rng.pick(FRAMES);
            fill(rng, m, out);
            out.push_str("\nValueError: invalid literal for int() with base 10: 'abc'");
        }
    }
    out.push('\n');
}

/// Log-like text of exactly `size` bytes (cut at a character boundary, padded with spaces).
fn text(seed: u64, size: usize) -> String {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut out = String::with_capacity(size + 512);
    while out.len() < size {
        line(&mut rng, &mut out);
    }
    let mut cut = size;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    while out.len() < size {
        out.push(' ');
    }
    out
}

struct Row {
    size: usize,
    eps: f64,
    p50: Duration,
    p99: Duration,
    ns_per_byte: f64,
    floor_ns_per_byte: f64,
}

/// Latencies of `call(i)` over the inputs `i` in `0..VARIANTS` in turn, after one warm-up call
/// each (lazy statics, regex caches), for `budget` and at least two rounds: their sum and the
/// sorted latencies.
fn timed(budget: Duration, mut call: impl FnMut(usize)) -> (Duration, Vec<Duration>) {
    for i in 0..VARIANTS {
        call(i);
    }
    let mut lat: Vec<Duration> = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || lat.len() < 2 * VARIANTS {
        let t0 = Instant::now();
        call(lat.len() % VARIANTS);
        lat.push(t0.elapsed());
    }
    let total = lat.iter().sum();
    lat.sort_unstable();
    (total, lat)
}

/// The `p` quantile of sorted latencies.
fn pct(lat: &[Duration], p: f64) -> Duration {
    lat[((lat.len() - 1) as f64 * p).round() as usize]
}

fn measure(size: usize, budget: Duration) -> Row {
    let texts: Vec<String> = (0..VARIANTS).map(|i| text(i as u64 + 1, size)).collect();
    let (total, lat) = timed(budget, |i| {
        black_box(scan_text(black_box(&texts[i])));
    });
    // Floor: one substring search over the same bytes (memchr-based, SIMD).
    let mut floor_iters = 0u64;
    let f0 = Instant::now();
    while f0.elapsed() < budget / 4 {
        for t in &texts {
            black_box(black_box(t.as_str()).contains("ignore previous instructions"));
        }
        floor_iters += VARIANTS as u64;
    }
    let floor = f0.elapsed();
    let n = lat.len() as f64;
    Row {
        size,
        eps: n / total.as_secs_f64(),
        p50: pct(&lat, 0.50),
        p99: pct(&lat, 0.99),
        ns_per_byte: total.as_nanos() as f64 / n / size as f64,
        floor_ns_per_byte: floor.as_nanos() as f64 / floor_iters as f64 / size as f64,
    }
}

/// Time per byte of each phase of a scan (views, rules, model) for one size.
fn phases(size: usize, budget: Duration) -> [f64; 3] {
    use faultline_injection_filter::{model, normalize, rules};
    let texts: Vec<String> = (0..VARIANTS).map(|i| text(i as u64 + 1, size)).collect();
    let w = model::shipped();
    let mut t = [Duration::ZERO; 3];
    let mut n = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget || n < VARIANTS as u64 {
        let text = &texts[n as usize % VARIANTS];
        let t0 = Instant::now();
        let vs = normalize::views_with(text, rules::derived_views);
        let t1 = Instant::now();
        let (hits, _) = rules::scan_views(text, &vs);
        let t2 = Instant::now();
        let ids: Vec<&str> = hits.iter().map(|h| h.id).collect();
        black_box(model::score(w, &vs, &ids, true));
        let t3 = Instant::now();
        t[0] += t1 - t0;
        t[1] += t2 - t1;
        t[2] += t3 - t2;
        n += 1;
    }
    t.map(|d| d.as_nanos() as f64 / n as f64 / size as f64)
}

struct EventRow {
    texts: usize,
    eps: f64,
    p50: Duration,
    p99: Duration,
}

/// The service's cost per event: an error event of 2 KiB as the pipeline bench sends it (a
/// message, environment, release, fingerprint, context and a long stack), every text of it
/// scanned alone and all of them joined, as the filter service does.
fn event_row(budget: Duration) -> EventRow {
    use faultline_injection_filter::{event_json_fields, scan_event_json, Thresholds};
    let events: Vec<serde_json::Value> = (0..VARIANTS)
        .map(|i| {
            let frame = "  at charge (billing/charge.py:118) in PaymentClient.call; ";
            serde_json::json!({
                "error": "TimeoutError: upstream payment-service did not answer",
                "environment": "production",
                "release": "4.2.0",
                "fingerprint": [format!("e2e-1-{i}")],
                "context": {"request_id": format!("bench-{i:06}"), "file": "billing/charge.py", "line": 118},
                "stack": frame.chars().cycle().take(1800).collect::<String>(),
            })
        })
        .collect();
    let t = Thresholds::default();
    let (total, lat) = timed(budget, |i| {
        black_box(scan_event_json(black_box(&events[i]), &t));
    });
    EventRow {
        texts: event_json_fields(&events[0]).len(),
        eps: lat.len() as f64 / total.as_secs_f64(),
        p50: pct(&lat, 0.5),
        p99: pct(&lat, 0.99),
    }
}

fn human(size: usize) -> String {
    if size >= 1024 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run a short smoke pass.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let secs: f64 = std::env::var("SCAN_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if smoke { 0.05 } else { 1.5 });
    let budget = Duration::from_secs_f64(secs);
    println!("scan_text on generated log-like text, single thread, {secs} s per size");
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>9} {:>12} {:>10}",
        "size", "events/s", "p50 us", "p99 us", "ns/byte", "contains ns/B", "x contains"
    );
    // `SCAN_BENCH_SIZES=8192,65536` measures only those sizes (for profiling).
    let sizes: Vec<usize> = std::env::var("SCAN_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| SIZES.to_vec());
    let rows: Vec<Row> = sizes.iter().map(|&s| measure(s, budget)).collect();
    for r in &rows {
        println!(
            "{:>8} {:>10.0} {:>10.1} {:>10.1} {:>9.2} {:>12.3} {:>10.0}",
            human(r.size),
            r.eps,
            r.p50.as_secs_f64() * 1e6,
            r.p99.as_secs_f64() * 1e6,
            r.ns_per_byte,
            r.floor_ns_per_byte,
            r.ns_per_byte / r.floor_ns_per_byte
        );
    }
    let ev = event_row(budget);
    println!(
        "2 KiB error event, {} texts scanned alone and joined (scan_event_json): {:.0} events/s, p50 {:.1} us, p99 {:.1} us",
        ev.texts,
        ev.eps,
        ev.p50.as_secs_f64() * 1e6,
        ev.p99.as_secs_f64() * 1e6
    );
    if std::env::var_os("SCAN_BENCH_PHASES").is_some() {
        for &s in &sizes {
            let [v, r, m] = phases(s, budget);
            println!(
                "{:>8} phases ns/byte: views {v:.1}, rules {r:.1}, model {m:.1}",
                human(s)
            );
        }
    }
    let (first, last) = (&rows[0], &rows[rows.len() - 1]);
    println!(
        "linearity: ns/byte at {} / ns/byte at {} = {:.2} (1.0 = linear)",
        human(last.size),
        human(first.size),
        last.ns_per_byte / first.ns_per_byte
    );
    let worst = rows
        .iter()
        .map(|r| r.ns_per_byte / r.floor_ns_per_byte)
        .fold(0f64, f64::max);
    println!("worst ratio to one str::contains pass over the same bytes: {worst:.0}x");
}
