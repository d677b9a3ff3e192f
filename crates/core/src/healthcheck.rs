//! The `healthcheck` subcommand of every service binary, with
//! grpc-health-probe's exit codes, so compose and Kubernetes need no extra
//! tool in the image.

use std::time::Duration;

use faultline_proto::grpc::health::v1::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};
use tonic::transport::Endpoint;

use crate::config::Config;
use crate::names::ServiceName;

/// Exit codes (the same as grpc-health-probe's).
pub mod exit {
    /// The service is SERVING.
    pub const SERVING: i32 = 0;
    /// Bad arguments or configuration.
    pub const BAD_ARGUMENTS: i32 = 1;
    /// Could not connect.
    pub const CONNECT_FAILED: i32 = 2;
    /// The RPC failed (including an unknown service name).
    pub const RPC_FAILED: i32 = 3;
    /// Connected, and the answer was not SERVING (or no live readiness signal).
    pub const NOT_SERVING: i32 = 4;
}

/// Arguments of `healthcheck`.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthcheckArgs {
    /// gRPC address to probe (host:port). Default: this service's
    /// `services.<name>.grpc_addr` from the configuration.
    #[arg(long)]
    pub addr: Option<String>,
    /// Health service name to check; empty for the whole process.
    #[arg(long, default_value = "")]
    pub service: String,
    /// Timeout of the connection and of the RPC (e.g. `1s`, `500ms`).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Also require a live readiness signal in Redis from an instance of this
    /// service on this host (or `--instance`).
    #[arg(long)]
    pub readiness: bool,
    /// With `--readiness`: the instance id whose signal must be live.
    #[arg(long, requires = "readiness")]
    pub instance: Option<String>,
}

/// Probes `addr` and returns the exit code; prints one line saying why.
pub async fn probe(addr: &str, service: &str, timeout: Duration) -> i32 {
    let endpoint = match Endpoint::from_shared(format!("http://{addr}")) {
        Ok(e) => e.connect_timeout(timeout).timeout(timeout),
        Err(err) => {
            eprintln!("bad address {addr:?}: {err}");
            return exit::BAD_ARGUMENTS;
        }
    };
    let channel = match tokio::time::timeout(timeout, endpoint.connect()).await {
        Ok(Ok(channel)) => channel,
        Ok(Err(err)) => {
            eprintln!("cannot connect to {addr}: {err}");
            return exit::CONNECT_FAILED;
        }
        Err(_) => {
            eprintln!("cannot connect to {addr}: timed out after {timeout:?}");
            return exit::CONNECT_FAILED;
        }
    };
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    match HealthClient::new(channel).check(request).await {
        Ok(resp) => {
            let status =
                ServingStatus::try_from(resp.into_inner().status).unwrap_or(ServingStatus::Unknown);
            if status == ServingStatus::Serving {
                eprintln!("status: SERVING");
                exit::SERVING
            } else {
                eprintln!("status: {}", status.as_str_name());
                exit::NOT_SERVING
            }
        }
        Err(status) => {
            eprintln!(
                "health RPC failed: {:?}: {}",
                status.code(),
                status.message()
            );
            exit::RPC_FAILED
        }
    }
}

/// Runs the subcommand for `service` and returns the exit code.
pub async fn run(
    service: ServiceName,
    config: Result<Config, String>,
    args: HealthcheckArgs,
) -> i32 {
    let needs_config = args.addr.is_none() || args.readiness;
    let config = match (needs_config, config) {
        (true, Err(err)) => {
            eprintln!("{err}");
            return exit::BAD_ARGUMENTS;
        }
        (_, c) => c.ok(),
    };
    let addr = match (&args.addr, &config) {
        (Some(addr), _) => addr.clone(),
        (None, Some(cfg)) => cfg.services.get(service).grpc_addr.clone(),
        (None, None) => unreachable!("config loaded when no address is given"),
    };
    let code = probe(&addr, &args.service, args.timeout).await;
    if code != exit::SERVING || !args.readiness {
        return code;
    }
    let cfg = config.expect("loaded for --readiness");
    readiness_code(service, &cfg, &args).await
}

async fn readiness_code(service: ServiceName, cfg: &Config, args: &HealthcheckArgs) -> i32 {
    let mut redis_cfg = cfg.redis.clone();
    redis_cfg.connect_attempts = 1;
    redis_cfg.timeout = args.timeout;
    let conn =
        match tokio::time::timeout(args.timeout, crate::redis_client::connect(&redis_cfg)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(err)) => {
                eprintln!("{err}");
                return exit::CONNECT_FAILED;
            }
            Err(_) => {
                eprintln!("cannot connect to Redis at {}: timed out", cfg.redis.url);
                return exit::CONNECT_FAILED;
            }
        };
    let readiness = crate::readiness::Readiness::new(
        conn,
        crate::names::Names::new(cfg.namespace()),
        cfg.readiness.ttl,
    );
    let signals = match readiness.live(service).await {
        Ok(s) => s,
        Err(err) => {
            eprintln!("reading readiness signals failed: {err}");
            return exit::RPC_FAILED;
        }
    };
    let host = crate::service::hostname();
    let mine = signals.iter().find(|s| match &args.instance {
        Some(instance) => &s.instance == instance,
        None => s.instance.starts_with(&format!("{host}-")) || s.instance == host,
    });
    match mine {
        Some(signal) => {
            eprintln!(
                "readiness: live signal of {} (renewed {})",
                signal.instance, signal.renewed_at
            );
            exit::SERVING
        }
        None => {
            eprintln!(
                "readiness: no live signal of {service} from {} ({} live elsewhere)",
                args.instance.as_deref().unwrap_or(&host),
                signals.len()
            );
            exit::NOT_SERVING
        }
    }
}
