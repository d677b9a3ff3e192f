//! A bad configuration stops the process with a message naming the problem.

use faultline_core::config::EXIT_CONFIG;
use faultline_core::service::EXIT_UNAVAILABLE;
use faultline_tests::Stack;

const BIN: &str = "faultline-error-ingest";

#[test]
fn bad_configurations_exit_non_zero_naming_the_problem() {
    let stack = Stack::start("cfg");

    let out = stack.run(BIN, &[], &[("FAULTLINE_NAMESPACE", "Bad-NS")]);
    assert_eq!(out.code, Some(EXIT_CONFIG), "{}", out.text);
    assert!(out.text.contains("namespace = \"Bad-NS\""), "{}", out.text);
    assert!(out.text.contains("FAULTLINE_NAMESPACE"), "{}", out.text);

    let out = stack.run(BIN, &[], &[("NATS_NAMESPACE", "has.dots")]);
    assert_eq!(out.code, Some(EXIT_CONFIG), "{}", out.text);
    assert!(out.text.contains("\"has.dots\""), "{}", out.text);

    let out = stack.run(
        BIN,
        &[],
        &[("FAULTLINE_NATS__URLL", "nats://127.0.0.1:4222")],
    );
    assert_eq!(out.code, Some(EXIT_CONFIG), "{}", out.text);
    assert!(out.text.contains("unknown field `urll`"), "{}", out.text);

    let out = stack.run(BIN, &[], &[("FAULTLINE_READINESS__TTL", "soon")]);
    assert_eq!(out.code, Some(EXIT_CONFIG), "{}", out.text);
    assert!(out.text.contains("soon"), "{}", out.text);

    let out = stack.run(
        BIN,
        &[],
        &[(
            "FAULTLINE_SERVICES__INJECTION_FILTER__DEPENDS_ON",
            "result-publisher",
        )],
    );
    assert_eq!(out.code, Some(EXIT_CONFIG), "{}", out.text);
    assert!(out.text.contains("cycle"), "{}", out.text);

    let dir = tempfile_dir();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "namespace = \"ok\"\n[nats]\nurl = \"nats://127.0.0.1:1\"\nbogus = 1\n",
    )
    .unwrap();
    let out = stack.run(BIN, &["--config", file.to_str().unwrap()], &[]);
    assert_eq!(out.code, Some(EXIT_CONFIG), "{}", out.text);
    assert!(out.text.contains("bogus"), "{}", out.text);

    let out = stack.run(BIN, &["--config", "/nonexistent/faultline.toml"], &[]);
    assert_eq!(out.code, Some(EXIT_CONFIG), "{}", out.text);
    assert!(
        out.text.contains("/nonexistent/faultline.toml"),
        "{}",
        out.text
    );
}

#[test]
fn unreachable_nats_exits_after_bounded_retries() {
    let stack = Stack::start("cfg_nats");
    let port = faultline_testkit::free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let out = stack.run(
        BIN,
        &[],
        &[
            ("NATS_URL", url.as_str()),
            ("FAULTLINE_NATS__CONNECT_ATTEMPTS", "3"),
            ("FAULTLINE_NATS__BACKOFF_INITIAL", "100ms"),
            ("FAULTLINE_NATS__CONNECT_TIMEOUT", "500ms"),
        ],
    );
    assert_eq!(out.code, Some(EXIT_UNAVAILABLE), "{}", out.text);
    assert!(
        out.text
            .contains(&format!("cannot connect to NATS at {url} after 3 attempts")),
        "{}",
        out.text
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // Which NATS it tried is in the log before the failure.
    assert!(out.text.contains(&format!("nats={url}")), "{}", out.text);
}

#[test]
fn dump_config_shows_the_effective_config_with_secrets_redacted() {
    let stack = Stack::start("cfg_dump");
    let out = stack.run(
        BIN,
        &["--dump-config"],
        &[
            (
                "REDIS_URL",
                "redis://:placeholder-password@127.0.0.1:6379/0",
            ),
            ("FAULTLINE_NATS__PASSWORD", "another-placeholder"),
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert!(
        out.text.contains("namespace = \"cfg_dump\""),
        "{}",
        out.text
    );
    assert!(
        out.text.contains("redis://:***@127.0.0.1:6379/0"),
        "{}",
        out.text
    );
    assert!(!out.text.contains("placeholder-password"), "{}", out.text);
    assert!(!out.text.contains("another-placeholder"), "{}", out.text);
    assert!(out.text.contains("password = \"***\""), "{}", out.text);
}

#[test]
fn a_config_file_named_by_the_environment_is_read_and_the_environment_wins() {
    let stack = Stack::start("cfg_file");
    let dir = tempfile_dir();
    let file = dir.join("faultline.toml");
    std::fs::write(
        &file,
        "namespace = \"from_file\"\n[readiness]\nttl = \"30s\"\nrenew_interval = \"10s\"\n[redis]\nconnect_attempts = 7\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    // NATS_NAMESPACE (set by the stack) beats the file; the file beats the defaults.
    let out = stack.run(BIN, &["--dump-config"], &[("FAULTLINE_CONFIG_FILE", path)]);
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert!(
        out.text.contains("namespace = \"cfg_file\""),
        "{}",
        out.text
    );
    assert!(out.text.contains("connect_attempts = 7"), "{}", out.text);
    let out = stack.run(
        BIN,
        &["--config", path, "--dump-config"],
        &[("FAULTLINE_REDIS__CONNECT_ATTEMPTS", "9")],
    );
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert!(out.text.contains("connect_attempts = 9"), "{}", out.text);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
