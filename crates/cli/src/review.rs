//! `faultline rejections`, `faultline release`, `faultline scan`: the
//! injection-filter's review and scan calls from a terminal.

use std::time::Duration;

use faultline_core::healthcheck::exit;
use faultline_proto::faultline::filter::v1::{
    injection_filter_client::InjectionFilterClient, scan_request::Input, Decision,
    ListRejectionsRequest, Rejection, ReleaseRequest, ScanRequest,
};
use tonic::transport::Channel;

/// Connects to the injection-filter, or prints why not and gives the exit code.
async fn connect(addr: &str, what: &str) -> Result<InjectionFilterClient<Channel>, i32> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|err| {
            eprintln!("faultline {what}: bad address {addr:?}: {err}");
            1
        })?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10));
    let channel = endpoint.connect().await.map_err(|err| {
        eprintln!("faultline {what}: cannot reach the injection-filter at {addr}: {err}");
        exit::CONNECT_FAILED
    })?;
    Ok(InjectionFilterClient::new(channel).max_decoding_message_size(16 * 1024 * 1024))
}

fn rpc_failed(what: &str, status: &tonic::Status) -> i32 {
    eprintln!(
        "faultline {what}: {:?}: {}",
        status.code(),
        status.message()
    );
    exit::RPC_FAILED
}

fn record(r: &Rejection) -> serde_json::Value {
    let record: serde_json::Value =
        serde_json::from_slice(&r.record_json).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "id": r.id,
        "record": record,
        "release": r.release.as_ref().map(|rel| serde_json::json!({
            "reviewer": rel.reviewer,
            "reason": rel.reason,
            "released_at": rel.released_at,
            "task_id": rel.task_id,
        })),
    })
}

/// Lists rejected events (oldest first).
pub(crate) async fn rejections(addr: &str, after: u64, limit: u32, json: bool) -> i32 {
    let mut client = match connect(addr, "rejections").await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let resp = match client
        .list_rejections(ListRejectionsRequest { after, limit })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(status) => return rpc_failed("rejections", &status),
    };
    if json {
        let list: Vec<_> = resp.rejections.iter().map(record).collect();
        println!(
            "{}",
            serde_json::json!({ "rejections": list, "next_after": resp.next_after })
        );
        return 0;
    }
    if resp.rejections.is_empty() {
        println!("no rejected events after {after}");
        return 0;
    }
    println!("{:>8}  {:<24}  {:<9}  snippet", "id", "timestamp", "state");
    for r in &resp.rejections {
        let rec = record(r);
        let state = if r.release.is_some() {
            "released"
        } else {
            "held"
        };
        println!(
            "{:>8}  {:<24}  {:<9}  {}",
            r.id,
            rec["record"]["timestamp"].as_str().unwrap_or("-"),
            state,
            rec["record"]["snippet"].as_str().unwrap_or("")
        );
    }
    if resp.next_after != 0 {
        println!("more: faultline rejections --after {}", resp.next_after);
    }
    0
}

/// Releases one rejected event.
pub(crate) async fn release(addr: &str, id: u64, reviewer: &str, reason: &str) -> i32 {
    let mut client = match connect(addr, "release").await {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client
        .release(ReleaseRequest {
            id,
            reviewer: reviewer.to_owned(),
            reason: reason.to_owned(),
        })
        .await
    {
        Ok(resp) => {
            let resp = resp.into_inner();
            let rel = resp.release.unwrap_or_default();
            if resp.already_released {
                println!(
                    "rejection {id} was already released by {} at {} ({}); task {}",
                    rel.reviewer, rel.released_at, rel.reason, rel.task_id
                );
            } else {
                println!(
                    "released rejection {id}: task {} (recorded as {})",
                    rel.task_id, rel.record_id
                );
            }
            0
        }
        Err(status) => rpc_failed("release", &status),
    }
}

/// Scans a text or an event file; exit 0 pass, 4 flag or reject (like a
/// failed health check, so scripts can branch on it).
pub(crate) async fn scan(addr: &str, input: Input, json: bool) -> i32 {
    let mut client = match connect(addr, "scan").await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let resp = match client.scan(ScanRequest { input: Some(input) }).await {
        Ok(r) => r.into_inner(),
        Err(status) => return rpc_failed("scan", &status),
    };
    let passed = resp.decision() == Decision::Pass;
    let decision = match resp.decision() {
        Decision::Pass => "pass",
        Decision::Flag => "flag",
        Decision::Reject => "reject",
        Decision::Unspecified => "unspecified",
    };
    let e = resp.explanation.unwrap_or_default();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "decision": decision,
                "score": resp.score,
                "fingerprint": (!resp.fingerprint.is_empty()).then_some(&resp.fingerprint),
                "rules": e.rules.iter().map(|r| serde_json::json!({
                    "id": r.id, "field": r.field, "view": r.view, "start": r.start, "end": r.end,
                })).collect::<Vec<_>>(),
                "model_version": e.model_version,
                "ruleset_version": e.ruleset_version,
            })
        );
    } else {
        println!("{decision} (score {:.3})", resp.score);
        for r in &e.rules {
            let field = if r.field.is_empty() {
                String::new()
            } else {
                format!(" in {}", r.field)
            };
            println!(
                "  rule {}{field}, view {}, bytes {}..{}",
                r.id, r.view, r.start, r.end
            );
        }
        for f in e.top_features.iter().take(5) {
            println!("  feature {} {:+.3}", f.name, f.contribution);
        }
    }
    if passed {
        0
    } else {
        exit::NOT_SERVING
    }
}
