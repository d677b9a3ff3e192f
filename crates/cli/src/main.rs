//! `faultline`: operate a faultline deployment from a terminal.
//!
//! - `faultline init` provisions the declared streams (create or update) and
//!   prints what it did; `--check` only reports missing and drifted streams.
//! - `faultline status` prints the health-checker's view of the system.
//! - `faultline healthcheck` probes any grpc.health.v1 endpoint.
//! - `faultline rejections`, `faultline release`, `faultline scan`: review
//!   what the injection-filter held back, and ask it about a text or event.
//!
//! Configuration is the services' own (file via `--config`, `FAULTLINE_…`,
//! `NATS_URL`, `NATS_NAMESPACE`, `REDIS_URL`).

#![allow(clippy::print_stdout)]

mod demo;
mod review;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use faultline_core::config::{Config, EXIT_CONFIG};
use faultline_core::healthcheck;
use faultline_core::metrics::Metrics;
use faultline_core::names::Names;
use faultline_core::provision::{self, Mode};
use faultline_core::service::{self, EXIT_UNAVAILABLE, VERSION};
use faultline_proto::faultline::health::v1::{
    health_status_client::HealthStatusClient, ComponentState, GetStatusRequest, SystemStatus,
};

#[derive(Debug, Parser)]
#[command(name = "faultline", version = VERSION, about = "Operate faultline: provision streams, show status, probe health.")]
struct Cli {
    /// Configuration file (TOML); environment variables override it.
    #[arg(long, global = true, env = "FAULTLINE_CONFIG_FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or update the declared streams; prints what changed and any drift.
    Init {
        /// Change nothing: report missing and drifted streams, exit 1 if any.
        #[arg(long)]
        check: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the health-checker's status of every component.
    Status {
        /// The health-checker's gRPC address (default: services.health_checker.grpc_addr).
        #[arg(long)]
        addr: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Probe a grpc.health.v1 endpoint (exit codes as grpc-health-probe).
    Healthcheck {
        /// host:port to probe.
        #[arg(long)]
        addr: String,
        /// Health service name ("" for the whole process).
        #[arg(long, default_value = "")]
        service: String,
        /// Timeout (e.g. 1s).
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Make a new API key for error-ingest. The key goes to stdout (shown
    /// once); its stored form (a hash) goes to stderr and, with `--append`,
    /// to a keys file.
    Apikey {
        /// Who the key is for (a name for logs and metrics).
        #[arg(long)]
        name: String,
        /// The project it may write to (default: the configured namespace).
        #[arg(long)]
        namespace: Option<String>,
        /// Append the stored form to this keys file (created with mode 0600).
        #[arg(long)]
        append: Option<PathBuf>,
    },
    /// List the events the injection-filter rejected (oldest first).
    Rejections {
        /// Start after this rejection id.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many (1 to 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The injection-filter's gRPC address (default: services.injection_filter.grpc_addr).
        #[arg(long)]
        addr: Option<String>,
        /// Print JSON (with the full records).
        #[arg(long)]
        json: bool,
    },
    /// Release a rejected event: it enters the pipeline once, marked as
    /// released, and the release is recorded.
    Release {
        /// The rejection's id (see `faultline rejections`).
        id: u64,
        /// Who decides.
        #[arg(long)]
        reviewer: String,
        /// Why the event is safe to hand to an agent.
        #[arg(long)]
        reason: String,
        /// The injection-filter's gRPC address.
        #[arg(long)]
        addr: Option<String>,
    },
    /// Send sample errors through error-ingest and show their way through
    /// the pipeline (run by `make run`; an agent must be running).
    Demo {
        /// A file holding an error-ingest API key.
        #[arg(long, default_value = ".run/api-key")]
        api_key_file: PathBuf,
        /// How long to wait for every error to end rejected or with a result.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        wait: Duration,
    },
    /// Scan a text (or an event file with --event) for prompt injection.
    /// Exit 0: pass; 4: flag or reject.
    Scan {
        /// The text to scan.
        #[arg(required_unless_present = "event")]
        text: Option<String>,
        /// An error event (JSON file; `-` for stdin) instead of a text.
        #[arg(long, conflicts_with = "text")]
        event: Option<PathBuf>,
        /// The injection-filter's gRPC address.
        #[arg(long)]
        addr: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The injection-filter's gRPC address: `--addr`, else the configuration's.
fn filter_addr(addr: Option<String>, config: Option<&std::path::Path>) -> Result<String, i32> {
    match addr {
        Some(a) => Ok(a),
        None => load(config).map(|cfg| cfg.services.injection_filter.grpc_addr.clone()),
    }
}

fn main() {
    let cli: Cli = service::parse_args_or_exit();
    let code = service::new_runtime().block_on(run(cli));
    std::process::exit(code);
}

fn load(path: Option<&std::path::Path>) -> Result<Config, i32> {
    Config::load(path).map_err(|err| {
        eprintln!("faultline: {err}");
        EXIT_CONFIG
    })
}

async fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Healthcheck {
            addr,
            service,
            timeout,
        } => healthcheck::probe(&addr, &service, timeout).await,
        Command::Apikey {
            name,
            namespace,
            append,
        } => {
            let namespace = match namespace {
                Some(ns) => ns,
                None => match load(cli.config.as_deref()) {
                    Ok(cfg) => cfg.namespace.clone(),
                    Err(code) => return code,
                },
            };
            apikey(&name, &namespace, append.as_deref())
        }
        Command::Config => match load(cli.config.as_deref()) {
            Ok(cfg) => {
                print!("{}", cfg.dump());
                0
            }
            Err(code) => code,
        },
        Command::Init { check, json } => {
            let cfg = match load(cli.config.as_deref()) {
                Ok(cfg) => cfg,
                Err(code) => return code,
            };
            init(&cfg, check, json).await
        }
        Command::Rejections {
            after,
            limit,
            addr,
            json,
        } => match filter_addr(addr, cli.config.as_deref()) {
            Ok(addr) => review::rejections(&addr, after, limit, json).await,
            Err(code) => code,
        },
        Command::Release {
            id,
            reviewer,
            reason,
            addr,
        } => match filter_addr(addr, cli.config.as_deref()) {
            Ok(addr) => review::release(&addr, id, &reviewer, &reason).await,
            Err(code) => code,
        },
        Command::Scan {
            text,
            event,
            addr,
            json,
        } => {
            use faultline_proto::faultline::filter::v1::scan_request::Input;
            let input = match (text, event) {
                (_, Some(path)) => {
                    let read = if path.as_os_str() == "-" {
                        let mut buf = Vec::new();
                        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map(|_| buf)
                    } else {
                        std::fs::read(&path)
                    };
                    match read {
                        Ok(bytes) => Input::EventJson(bytes),
                        Err(err) => {
                            eprintln!("faultline scan: cannot read {}: {err}", path.display());
                            return 1;
                        }
                    }
                }
                (Some(text), None) => Input::Text(text),
                (None, None) => unreachable!("clap requires text or --event"),
            };
            match filter_addr(addr, cli.config.as_deref()) {
                Ok(addr) => review::scan(&addr, input, json).await,
                Err(code) => code,
            }
        }
        Command::Demo { api_key_file, wait } => {
            let cfg = match load(cli.config.as_deref()) {
                Ok(cfg) => cfg,
                Err(code) => return code,
            };
            match std::fs::read_to_string(&api_key_file) {
                Ok(key) => demo::run(&cfg, key.trim(), wait).await,
                Err(err) => {
                    eprintln!(
                        "faultline demo: cannot read the API key from {}: {err}",
                        api_key_file.display()
                    );
                    1
                }
            }
        }
        Command::Status { addr, json } => {
            let addr = match addr {
                Some(a) => a,
                None => match load(cli.config.as_deref()) {
                    Ok(cfg) => cfg.services.health_checker.grpc_addr.clone(),
                    Err(code) => return code,
                },
            };
            status(&addr, json).await
        }
    }
}

fn apikey(name: &str, namespace: &str, append: Option<&std::path::Path>) -> i32 {
    if faultline_core::names::Namespace::new(namespace).is_err()
        || name.is_empty()
        || name.contains(char::is_whitespace)
        || name.contains([':', ',', '#'])
    {
        eprintln!("faultline apikey: give a namespace of a-z 0-9 _ and a name without spaces, ':', ',' or '#'");
        return 1;
    }
    let mut bytes = [0u8; 24];
    if let Err(err) = getrandom::fill(&mut bytes) {
        eprintln!("faultline apikey: no randomness: {err}");
        return 1;
    }
    let key: String = std::iter::once("flk_".to_owned())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    let line = format!(
        "{namespace} {name} {}",
        faultline_error_ingest::auth::stored_form(&key)
    );
    if let Some(path) = append {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path);
        match file.and_then(|mut f| writeln!(f, "{line}")) {
            Ok(()) => eprintln!("stored form appended to {}", path.display()),
            Err(err) => {
                eprintln!(
                    "faultline apikey: cannot append to {}: {err}",
                    path.display()
                );
                return 1;
            }
        }
    } else {
        eprintln!("stored form (put this line in ingest.api_keys_file): {line}");
    }
    println!("{key}");
    0
}

async fn init(cfg: &Config, check: bool, json: bool) -> i32 {
    let mut nats_cfg = cfg.nats.clone();
    nats_cfg.connect_attempts = nats_cfg.connect_attempts.min(3);
    let nats =
        match faultline_core::nats::connect(&nats_cfg, "faultline-cli", &Metrics::new()).await {
            Ok(n) => n,
            Err(err) => {
                eprintln!("faultline init: {err}");
                return EXIT_UNAVAILABLE;
            }
        };
    let names = Names::new(cfg.namespace());
    let specs = match provision::declared_streams(&names, &cfg.provision) {
        Ok(s) => s,
        Err(err) => {
            eprintln!("faultline init: {err}");
            return EXIT_CONFIG;
        }
    };
    let mode = if check { Mode::Check } else { Mode::Apply };
    match provision::provision(&nats.jetstream, &specs, mode).await {
        Ok(report) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("report serialises")
                );
            } else {
                println!(
                    "namespace {} on {} ({} streams, replicas {}):",
                    names.namespace(),
                    cfg.nats.url,
                    specs.len(),
                    cfg.provision.replicas
                );
                print!("{report}");
            }
            i32::from(!report.in_sync())
        }
        Err(err) => {
            eprintln!("faultline init: {err}");
            1
        }
    }
}

async fn status(addr: &str, json: bool) -> i32 {
    let endpoint = match tonic::transport::Endpoint::from_shared(format!("http://{addr}")) {
        Ok(e) => e
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5)),
        Err(err) => {
            eprintln!("faultline status: bad address {addr:?}: {err}");
            return 1;
        }
    };
    let channel = match endpoint.connect().await {
        Ok(c) => c,
        Err(err) => {
            eprintln!("faultline status: cannot reach the health-checker at {addr}: {err}");
            return healthcheck::exit::CONNECT_FAILED;
        }
    };
    let status = match HealthStatusClient::new(channel)
        .get_status(GetStatusRequest {})
        .await
    {
        Ok(resp) => resp.into_inner(),
        Err(err) => {
            eprintln!("faultline status: {}", err.message());
            return healthcheck::exit::RPC_FAILED;
        }
    };
    if json {
        println!("{}", status_json(&status));
    } else {
        print_status(&status);
    }
    if status.state == ComponentState::Healthy as i32 {
        0
    } else {
        healthcheck::exit::NOT_SERVING
    }
}

fn state_name(state: i32) -> &'static str {
    match ComponentState::try_from(state).unwrap_or(ComponentState::Unspecified) {
        ComponentState::Healthy => "healthy",
        ComponentState::Unhealthy => "UNHEALTHY",
        ComponentState::Unknown => "unknown",
        ComponentState::Unspecified => "unspecified",
    }
}

fn print_status(status: &SystemStatus) {
    println!("system: {}", state_name(status.state));
    for c in &status.components {
        let mut details: Vec<_> = c.details.iter().map(|(k, v)| format!("{k}={v}")).collect();
        details.sort();
        println!(
            "  {:<18} {:<10} {}",
            c.name,
            state_name(c.state),
            if c.reason.is_empty() {
                details.join(" ")
            } else {
                c.reason.clone()
            }
        );
    }
}

fn status_json(status: &SystemStatus) -> String {
    let components: Vec<_> = status
        .components
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "state": state_name(c.state).to_ascii_lowercase(),
                "reason": c.reason,
                "last_healthy_unix_ms": c.last_healthy_unix_ms,
                "checked_unix_ms": c.checked_unix_ms,
                "details": c.details,
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "state": state_name(status.state).to_ascii_lowercase(),
        "components": components,
        "checked_unix_ms": status.checked_unix_ms,
    }))
    .expect("status serialises")
}
