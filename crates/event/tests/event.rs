//! The schema, the validation and the fingerprint, without I/O.

use faultline_event::{fingerprint, normalize, parse, ErrorEvent, EventError, Limits};
use proptest::prelude::*;

const SEED: &str = r#"{"error": "KeyError: 'user_id'", "stack": "Traceback (most recent call last):\n  File \"app.py\", line 42, in handler\nKeyError: 'user_id'", "timestamp": "2026-11-23T19:12:34Z", "context": {"file": "app.py", "line": 42, "request_id": "req-8f2a"}}"#;

fn ok(json: &str) -> ErrorEvent {
    parse(json.as_bytes(), &Limits::default()).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn err(json: &[u8]) -> EventError {
    parse(json, &Limits::default()).expect_err("must be refused")
}

#[test]
fn the_seed_json_is_accepted_unchanged() {
    let ev = ok(SEED);
    assert_eq!(ev.error.as_deref(), Some("KeyError: 'user_id'"));
    assert_eq!(ev.context_str("file").as_deref(), Some("app.py"));
    assert_eq!(ev.context_str("line").as_deref(), Some("42"));
    // Round trip keeps the seed's keys.
    let back = serde_json::to_value(&ev).unwrap();
    let orig: serde_json::Value = serde_json::from_str(SEED).unwrap();
    assert_eq!(back, orig);
}

#[test]
fn sentry_style_fields() {
    let ev = ok(r#"{
        "message": "boom", "level": "error", "environment": "production", "release": "1.4.2",
        "server_name": "web-1", "tags": {"region": "eu"}, "user": {"id": "7", "email": "a@example.com"},
        "fingerprint": ["{{ default }}", "checkout"],
        "exception": {"type": "ValueError", "value": "bad 42", "module": "shop.cart",
          "frames": [{"module": "shop.cart", "function": "add", "filename": "cart.py", "lineno": 10, "in_app": true}]}
    }"#);
    assert_eq!(
        ev.error.as_deref(),
        Some("boom"),
        "message is an alias of error"
    );
    assert_eq!(ev.exception.unwrap().frames.unwrap()[0].line, Some(10));
}

#[test]
fn each_bad_input_has_its_error() {
    assert_eq!(err(b"{\"error\": \"x\"").code(), "malformed_json");
    assert_eq!(err(b"not json").code(), "malformed_json");
    assert_eq!(err(b"{\"error\": \"x\"} trailing").code(), "malformed_json");
    assert_eq!(err(b"{\"error\": \"\xff\xfe\"}").code(), "invalid_utf8");
    match err(br#"{"error": 42}"#) {
        EventError::WrongType { path, .. } => assert_eq!(path, "$.error"),
        other => panic!("{other:?}"),
    }
    match err(br#"{"error": "x", "evil": 1}"#) {
        EventError::UnknownField { field, path } => {
            assert_eq!(field, "evil");
            assert_eq!(path, "$");
        }
        other => panic!("{other:?}"),
    }
    match err(br#"{"error": "x", "exception": {"type": "E", "frames": [{"fn": "f"}]}}"#) {
        EventError::UnknownField { field, path } => {
            assert_eq!(field, "fn");
            assert_eq!(path, "$.exception.frames[0]");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err(br#"{"stack": "only a stack"}"#).code(), "missing_field");
    assert_eq!(
        err(br#"{"exception": {"value": "no type"}}"#).code(),
        "missing_field"
    );
    assert_eq!(
        err(br#"{"error": "x", "environment": "Prod.EU"}"#).code(),
        "invalid_value"
    );
    assert_eq!(
        err(br#"{"error": "x", "level": "panic"}"#).code(),
        "wrong_type"
    );

    let deep = format!(
        r#"{{"error": "x", "context": {{"a": {}1{}}}}}"#,
        "[".repeat(20),
        "]".repeat(20)
    );
    assert_eq!(err(deep.as_bytes()).code(), "too_deep");
    let very_deep = format!(
        r#"{{"error": "x", "context": {{"a": {}1{}}}}}"#,
        "[".repeat(500),
        "]".repeat(500)
    );
    assert!(matches!(
        err(very_deep.as_bytes()).code(),
        "too_deep" | "malformed_json"
    ));

    let long = format!(r#"{{"error": "{}"}}"#, "a".repeat(20_000));
    assert_eq!(err(long.as_bytes()).code(), "too_long");
    let big = format!(r#"{{"error": "x", "stack": "{}"}}"#, "a".repeat(300_000));
    assert_eq!(err(big.as_bytes()).code(), "too_large");
    let frames = format!(
        r#"{{"exception": {{"type": "E", "frames": [{}]}}}}"#,
        vec![r#"{"function": "f"}"#; 251].join(",")
    );
    assert_eq!(err(frames.as_bytes()).code(), "too_long");
}

#[test]
fn errors_read_well() {
    let e = err(br#"{"error": "x", "evil": 1}"#);
    assert_eq!(e.to_string(), "unknown field `evil` at $");
    let e = err(br#"{"error": 42}"#);
    assert!(
        e.to_string()
            .starts_with("wrong type at $.error: invalid type: integer `42`"),
        "{e}"
    );
}

fn exc_event(kind: &str, frames: &[(&str, &str, u32, bool)], value: &str) -> ErrorEvent {
    let frames: Vec<String> = frames
        .iter()
        .map(|(m, f, l, in_app)| {
            format!(r#"{{"module": "{m}", "function": "{f}", "line": {l}, "in_app": {in_app}}}"#)
        })
        .collect();
    ok(&format!(
        r#"{{"exception": {{"type": "{kind}", "value": "{value}", "frames": [{}]}}}}"#,
        frames.join(",")
    ))
}

#[test]
fn fingerprint_is_versioned_and_stable() {
    let fp = fingerprint(&ok(SEED));
    assert!(fp.starts_with("v1:"));
    assert_eq!(fp.len(), 3 + 32);
    assert_eq!(fp, fingerprint(&ok(SEED)));
}

#[test]
fn exception_fingerprints_ignore_line_numbers_and_library_frames() {
    let a = exc_event(
        "KeyError",
        &[("lib", "call", 1, false), ("app.views", "get", 10, true)],
        "x",
    );
    let b = exc_event(
        "KeyError",
        &[("lib", "other", 9, false), ("app.views", "get", 99, true)],
        "y 123",
    );
    assert_eq!(fingerprint(&a), fingerprint(&b));
    let c = exc_event("KeyError", &[("app.views", "post", 10, true)], "x");
    assert_ne!(fingerprint(&a), fingerprint(&c));
    let d = exc_event("ValueError", &[("app.views", "get", 10, true)], "x");
    assert_ne!(fingerprint(&a), fingerprint(&d));
}

#[test]
fn message_fingerprints_ignore_variable_parts_but_keep_the_seed_signature() {
    let a = ok(
        r#"{"error": "user 123 not found at 2026-01-01T00:00:00Z", "context": {"file": "a.py", "line": 3}}"#,
    );
    let b = ok(
        r#"{"error": "user 98765 not found at 2026-11-23T10:00:00Z", "context": {"file": "a.py", "line": 3}}"#,
    );
    assert_eq!(fingerprint(&a), fingerprint(&b));
    let other_line = ok(
        r#"{"error": "user 1 not found at 2026-01-02T00:00:00Z", "context": {"file": "a.py", "line": 4}}"#,
    );
    let same_line = ok(
        r#"{"error": "user 2 not found at 2026-01-03T00:00:00Z", "context": {"file": "a.py", "line": 3}}"#,
    );
    assert_eq!(fingerprint(&a), fingerprint(&same_line));
    assert_ne!(fingerprint(&a), fingerprint(&other_line));
}

#[test]
fn client_fingerprints_and_default_expansion() {
    let base = r#""error": "boom 1", "context": {"file": "a.py", "line": 3}"#;
    let plain = ok(&format!("{{{base}}}"));
    let custom = ok(&format!(r#"{{{base}, "fingerprint": ["checkout"]}}"#));
    let custom2 = ok(r#"{"error": "other", "fingerprint": ["checkout"]}"#);
    assert_eq!(fingerprint(&custom), fingerprint(&custom2));
    assert_ne!(fingerprint(&custom), fingerprint(&plain));
    let with_default = ok(&format!(
        r#"{{{base}, "fingerprint": ["{{{{ default }}}}", "eu"]}}"#
    ));
    let with_default2 = ok(
        r#"{"error": "boom 2", "context": {"file": "a.py", "line": 3}, "fingerprint": ["{{default}}", "eu"]}"#,
    );
    assert_eq!(fingerprint(&with_default), fingerprint(&with_default2));
    assert_ne!(fingerprint(&with_default), fingerprint(&plain));
}

#[test]
fn release_is_not_part_of_the_fingerprint() {
    let a = ok(r#"{"error": "x", "release": "1.0"}"#);
    let b = ok(r#"{"error": "x", "release": "2.0"}"#);
    assert_eq!(fingerprint(&a), fingerprint(&b));
}

proptest! {
    #[test]
    fn normalisation_is_idempotent(s in "\\PC{0,200}") {
        let once = normalize(&s);
        prop_assert_eq!(normalize(&once), once.clone());
    }

    #[test]
    fn numbers_never_change_a_message_fingerprint(a in 0u64..u64::MAX, b in 0u64..u64::MAX, word in "[a-z]{1,12}") {
        let ea = ok(&format!(r#"{{"error": "{word} {a} failed", "context": {{"file": "f.rs", "line": 7}}}}"#));
        let eb = ok(&format!(r#"{{"error": "{word} {b} failed", "context": {{"file": "f.rs", "line": 7}}}}"#));
        prop_assert_eq!(fingerprint(&ea), fingerprint(&eb));
    }

    #[test]
    fn fingerprints_are_well_formed(msg in "\\PC{1,100}") {
        let ev = ErrorEvent {
            event_id: None, error: Some(msg), stack: None, timestamp: None, context: None,
            exception: None, level: None, environment: None, release: None, server_name: None,
            tags: None, user: None, fingerprint: None,
        };
        let fp = fingerprint(&ev);
        prop_assert!(fp.starts_with("v1:"));
        prop_assert_eq!(fp.len(), 35);
        prop_assert!(fp[3..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes, &Limits::default());
    }
}
