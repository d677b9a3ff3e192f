//! Log-aware exceptions: benign log lines that use scary words must pass.

use faultline_injection_filter::{scan_text, Decision};

fn assert_pass(text: &str) {
    let v = scan_text(text);
    assert_eq!(v.decision, Decision::Pass, "{text:?} -> {v:?}");
}

#[test]
fn ignored_duplicate_packets() {
    assert_pass("Nov 23 10:01:02 edge-1 kernel: ignored 14 duplicate packets from 10.0.0.7");
}

#[test]
fn override_config() {
    let t = "2025-01-02T10:00:00Z INFO loader: override system config rules from /etc/app/override.yaml";
    assert_suppressed(t, "sup.override_config");
}

#[test]
fn sudo_pam_session() {
    assert_pass("Nov 23 10:01:02 web-01 sudo: pam_unix(sudo:session): session opened for user root by deploy(uid=0)");
}

#[test]
fn windows_event_xml() {
    let t = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Service Control Manager"/><EventID>7036</EventID></System><EventData><Data>The Print Spooler service entered the stopped state.</Data></EventData></Event>"#;
    assert_suppressed(t, "sup.windows_event_xml");
}

#[test]
fn system_prompt_in_code_identifier() {
    let t = "FileNotFoundError: template llm.system prompt.txt not found";
    assert_suppressed(t, "sup.code_identifier");
    assert_pass("KeyError: 'system_prompt' while loading config.llm.systemPrompt");
}

#[test]
fn password_incorrect() {
    assert_pass("Nov 23 10:01:02 db-2 sshd[812]: password incorrect for user alice from 10.1.2.3 port 52211");
}

#[test]
fn benign_traces_pass() {
    assert_pass(
        "Traceback (most recent call last):\n  File \"/app/worker.py\", line 12, in run\n    token = get_token(user)\nKeyError: 'token'",
    );
    assert_pass("java.lang.IllegalStateException: Please ignore this warning if you are not using the legacy exporter\n\tat com.acme.App.main(App.java:10)");
}

/// `text` passes, and the explanation names the suppression `id`.
fn assert_suppressed(text: &str, id: &str) {
    let v = scan_text(text);
    assert_eq!(v.decision, Decision::Pass, "{v:?}");
    assert!(v.explanation.suppressions.iter().any(|s| s == id), "{v:?}");
}
