//! Evaluator: `injection-eval --data FILE.jsonl [--json] [--threshold-reject X] [--threshold-flag Y]`.
//!
//! Scans every `text` single-threaded and reports recall per attack kind (label 1), false-positive
//! rate per benign kind (label 0), overall recall / FPR and latency. A text counts as detected
//! when its verdict is Reject; Flag is reported separately (and counts as pass in the headline).
//! Latency (events/s, p50, p99; also in `--json`) is timed over a second pass of scans only, as
//! a running service sees it; the first pass, which fills the regexes' lazy DFA caches and the
//! allocator's pages, is shown on the next line.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::Instant;

use faultline_injection_filter::model::{shipped, Weights};
use faultline_injection_filter::{scan_text_with_model, Decision, Thresholds};

struct Args {
    data: Vec<String>,
    json: bool,
    thresholds: Thresholds,
    show_errors: usize,
    weights: Option<String>,
    dump: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        data: Vec::new(),
        json: false,
        thresholds: Thresholds::default(),
        show_errors: 0,
        weights: None,
        dump: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--data" => a.data.push(val("--data")?),
            "--json" => a.json = true,
            "--model-alone-max" => {
                a.thresholds.model_alone_max = val("--model-alone-max")?
                    .parse()
                    .map_err(|e| format!("{e}"))?;
            }
            "--weights" => a.weights = Some(val("--weights")?),
            // Hidden: one line per row (index, decision, score, rule@view[span]...) to compare
            // two builds row by row.
            "--dump-decisions" => a.dump = Some(val("--dump-decisions")?),
            "--threshold-reject" => {
                a.thresholds.reject = val("--threshold-reject")?
                    .parse()
                    .map_err(|e| format!("{e}"))?;
            }
            "--threshold-flag" => {
                a.thresholds.flag = val("--threshold-flag")?
                    .parse()
                    .map_err(|e| format!("{e}"))?;
            }
            "--show-errors" => {
                a.show_errors = val("--show-errors")?.parse().map_err(|e| format!("{e}"))?;
            }
            "-h" | "--help" => {
                return Err("usage: injection-eval --data FILE.jsonl [--json] [--threshold-reject X] [--threshold-flag Y] [--show-errors N] [--weights FILE] [--model-alone-max X]".into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.data.is_empty() {
        return Err("--data FILE.jsonl is required".into());
    }
    Ok(a)
}

#[derive(Default)]
struct Counts {
    n: usize,
    reject: usize,
    flag: usize,
    label: i64,
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let weights: Weights = match &args.weights {
        Some(p) => match std::fs::read(p).ok().and_then(|b| Weights::from_bytes(&b)) {
            Some(w) => w,
            None => {
                eprintln!("cannot load weights {p}");
                std::process::exit(2);
            }
        },
        None => shipped().clone(),
    };
    let mut rows: Vec<(String, i64, String)> = Vec::new();
    for path in &args.data {
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("cannot open {path}: {e}");
                std::process::exit(2);
            }
        };
        for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.unwrap_or_default();
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("{path}:{}: bad JSON: {e}", i + 1);
                    continue;
                }
            };
            let text = v["text"].as_str().unwrap_or_default().to_string();
            let label = v["label"].as_i64().unwrap_or(0);
            let kind = v["kind"].as_str().unwrap_or("unknown").to_string();
            rows.push((text, label, kind));
        }
    }
    if std::env::var_os("INJECTION_EVAL_PROFILE").is_some() {
        use faultline_injection_filter::{model, normalize, rules};
        // The scan builds views and runs rules in one go (`rules::scan`); the split below does
        // the same work in separate steps, which costs a little more.
        let (mut tv, mut tr, mut tm, mut ts) = (0u128, 0u128, 0u128, 0u128);
        for (text, _, _) in &rows {
            let t0 = Instant::now();
            let vs = normalize::views_with(text, rules::derived_views);
            let t1 = Instant::now();
            let (hits, _) = rules::scan_views(text, &vs);
            let t2 = Instant::now();
            let ids: Vec<&str> = hits.iter().map(|h| h.id).collect();
            let _ = model::score(&weights, &vs, &ids, true);
            let t3 = Instant::now();
            let _ = rules::scan(text);
            let t4 = Instant::now();
            tv += (t1 - t0).as_nanos();
            tr += (t2 - t1).as_nanos();
            tm += (t3 - t2).as_nanos();
            ts += (t4 - t3).as_nanos();
        }
        eprintln!(
            "profile: views {} ms, rules {} ms, model {} ms (views and rules in one scan: {} ms)",
            tv / 1_000_000,
            tr / 1_000_000,
            tm / 1_000_000,
            ts / 1_000_000
        );
    }
    let mut per_kind: BTreeMap<String, Counts> = BTreeMap::new();
    let mut lat_ns: Vec<u64> = Vec::with_capacity(rows.len());
    let mut shown_fp = 0;
    let mut shown_fn = 0;
    let mut dump = String::new();
    // Tables are built once per process (the service does it at start): not part of a scan.
    faultline_injection_filter::warm_up();
    let mut cold_ns: Vec<u64> = Vec::with_capacity(rows.len());
    for (row, (text, label, kind)) in rows.iter().enumerate() {
        let t0 = Instant::now();
        let v = scan_text_with_model(text, &args.thresholds, &weights);
        cold_ns.push(t0.elapsed().as_nanos() as u64);
        if args.dump.is_some() {
            use std::fmt::Write as _;
            let _ = write!(dump, "{row}\t{:?}\t{:?}\t", v.decision, v.score);
            for h in &v.explanation.rules {
                let _ = write!(
                    dump,
                    "{}@{}[{}..{}] ",
                    h.id, h.view, h.span.start, h.span.end
                );
            }
            let _ = write!(dump, "\t{}\t", v.explanation.suppressions.join(","));
            for (name, c) in &v.explanation.top_features {
                let _ = write!(dump, "{name:?}={c:?} ");
            }
            let _ = writeln!(dump);
        }
        let c = per_kind.entry(kind.clone()).or_default();
        c.n += 1;
        c.label = *label;
        match v.decision {
            Decision::Reject => c.reject += 1,
            Decision::Flag => c.flag += 1,
            Decision::Pass => {}
        }
        let detected = v.decision == Decision::Reject;
        if args.show_errors > 0 {
            let ids: Vec<String> = v
                .explanation
                .rules
                .iter()
                .map(|h| format!("{}@{}", h.id, h.view))
                .collect();
            let snippet: String = text.chars().take(240).collect();
            if *label == 0 && detected && shown_fp < args.show_errors {
                shown_fp += 1;
                eprintln!(
                    "FP [{kind}] {:.3} {ids:?} {:?} {snippet:?}",
                    v.score, v.explanation.top_features
                );
            }
            if *label == 1 && !detected && shown_fn < args.show_errors {
                shown_fn += 1;
                eprintln!("FN [{kind}] {:.3} {ids:?} {snippet:?}", v.score);
            }
        }
    }
    // Latency in a second pass over the same events, as a running service
    // sees it: the first pass filled the regexes' lazy DFA caches and the
    // allocator's pages, one-time costs of a process's first scans.
    let total_start = Instant::now();
    for (text, _, _) in &rows {
        let t0 = Instant::now();
        std::hint::black_box(scan_text_with_model(text, &args.thresholds, &weights));
        lat_ns.push(t0.elapsed().as_nanos() as u64);
    }
    let total_s = total_start.elapsed().as_secs_f64();
    if let Some(p) = &args.dump {
        if let Err(e) = std::fs::write(p, &dump) {
            eprintln!("cannot write {p}: {e}");
            std::process::exit(2);
        }
    }
    let (eps, p50, p99) = latency(lat_ns, total_s);
    let cold_s = cold_ns.iter().sum::<u64>() as f64 / 1e9;
    let (cold_eps, cold_p50, cold_p99) = latency(cold_ns, cold_s);
    let (mut pos, mut tp, mut neg, mut fp, mut pos_flag, mut neg_flag) = (0, 0, 0, 0, 0, 0);
    for c in per_kind.values() {
        if c.label == 1 {
            pos += c.n;
            tp += c.reject;
            pos_flag += c.flag;
        } else {
            neg += c.n;
            fp += c.reject;
            neg_flag += c.flag;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let recall = ratio(tp, pos);
    let fpr = ratio(fp, neg);
    if args.json {
        let mut pk = serde_json::Map::new();
        for (k, c) in &per_kind {
            pk.insert(
                k.clone(),
                serde_json::json!({"n": c.n, "rate": ratio(c.reject, c.n)}),
            );
        }
        let out = serde_json::json!({
            "recall": recall, "fpr": fpr, "per_kind": pk,
            "events_per_sec": eps, "p50_us": p50, "p99_us": p99,
        });
        println!("{out}");
        return;
    }
    println!(
        "thresholds: reject >= {}, flag >= {} (detected = Reject; Flag counts as pass, shown separately)",
        args.thresholds.reject, args.thresholds.flag
    );
    println!(
        "{:<24} {:>6} {:>8} {:>10} {:>12}",
        "kind", "n", "metric", "rate", "flag-rate"
    );
    for (k, c) in &per_kind {
        let metric = if c.label == 1 { "recall" } else { "fpr" };
        println!(
            "{k:<24} {:>6} {metric:>8} {:>10.4} {:>12.4}",
            c.n,
            ratio(c.reject, c.n),
            ratio(c.flag, c.n)
        );
    }
    println!(
        "overall: recall {recall:.4} ({tp}/{pos}), fpr {fpr:.4} ({fp}/{neg}); flagged: attacks {pos_flag}, benign {neg_flag}"
    );
    println!("latency: {eps:.0} events/s single-threaded, p50 {p50:.1} us, p99 {p99:.1} us");
    println!(
        "  (a second pass over the events; the first pass, which also fills the regexes' lazy DFA caches and the allocator's pages: {cold_eps:.0} events/s of scan time, p50 {cold_p50:.1} us, p99 {cold_p99:.1} us)"
    );
}

/// Events/s over `total_s` seconds, and the p50 and p99 of `lat_ns` in µs.
fn latency(mut lat_ns: Vec<u64>, total_s: f64) -> (f64, f64, f64) {
    lat_ns.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat_ns.is_empty() {
            return 0.0;
        }
        let idx = ((lat_ns.len() as f64 - 1.0) * p).round() as usize;
        lat_ns[idx] as f64 / 1000.0
    };
    let eps = if total_s > 0.0 {
        lat_ns.len() as f64 / total_s
    } else {
        0.0
    };
    (eps, pct(0.50), pct(0.99))
}
