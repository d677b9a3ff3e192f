//! Shared helpers for the end-to-end scenarios: a [`Stack`] of real
//! nats-server and redis-server processes plus the faultline binaries,
//! configured through the environment exactly as users configure them.
//!
//! A stack runs on one nats-server ([`Stack::start`]) or on a JetStream
//! cluster ([`Stack::on_cluster`]: every process gets all node URLs and the
//! streams are provisioned with one replica per node).
//!
//! The binaries must be built first (`cargo build --workspace --bins`;
//! `make test` does it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use faultline_core::config::{RedisConfig, Url};
use faultline_core::names::{Names, Namespace, ServiceName};
use faultline_core::readiness::Readiness;
use faultline_testkit::{binary, free_port, NatsCluster, NatsServer, RedisServer, ServiceProcess};

/// Readiness TTL used by the scenarios.
pub const TTL: Duration = Duration::from_secs(3);
/// Renewal interval used by the scenarios.
pub const RENEW: Duration = Duration::from_secs(1);
/// Gate poll interval used by the scenarios.
pub const POLL: Duration = Duration::from_millis(200);
/// Shutdown grace period used by the scenarios.
pub const GRACE: Duration = Duration::from_secs(5);

/// The NATS a [`Stack`] runs on: one server or a cluster.
pub trait StackNats: std::fmt::Debug {
    /// What `NATS_URL` is set to (comma-separated node URLs for a cluster).
    fn nats_url(&self) -> String;
    /// Stream replicas to provision (`FAULTLINE_PROVISION__REPLICAS`).
    fn replicas(&self) -> usize;
}

impl StackNats for NatsServer {
    fn nats_url(&self) -> String {
        self.url()
    }
    fn replicas(&self) -> usize {
        1
    }
}

impl StackNats for NatsCluster {
    fn nats_url(&self) -> String {
        self.url()
    }
    fn replicas(&self) -> usize {
        self.len()
    }
}

/// Real servers, a namespace, and a port pair per service.
#[derive(Debug)]
pub struct Stack<N: StackNats = NatsServer> {
    /// The NATS server (or cluster).
    pub nats: N,
    /// The Redis server.
    pub redis: RedisServer,
    /// The namespace of this stack.
    pub namespace: String,
    ports: BTreeMap<ServiceName, (u16, u16)>,
    ingest_http: u16,
    /// The scan seal key file every process gets, as `make run` gives it.
    seal_key: tempfile::NamedTempFile,
}

/// The API key every stack's error-ingest accepts.
pub const API_KEY: &str = "e2e-test-key";

impl Stack {
    /// Starts nats-server and redis-server on free ports.
    pub fn start(namespace: &str) -> Self {
        Self::with_nats(NatsServer::start().expect("start nats-server"), namespace)
    }
}

impl Stack<NatsCluster> {
    /// Starts a JetStream cluster of `nodes` nats-servers and a redis-server.
    /// Every process is given all node URLs and provisions streams with
    /// `nodes` replicas.
    pub fn on_cluster(namespace: &str, nodes: usize) -> Self {
        Self::with_nats(
            NatsCluster::start(nodes).expect("start nats-server cluster"),
            namespace,
        )
    }
}

impl<N: StackNats> Stack<N> {
    fn with_nats(nats: N, namespace: &str) -> Self {
        let redis = RedisServer::start().expect("start redis-server");
        let ports = ServiceName::ALL
            .into_iter()
            .map(|s| (s, (free_port(), free_port())))
            .collect();
        Self {
            nats,
            redis,
            namespace: namespace.to_owned(),
            ports,
            ingest_http: free_port(),
            seal_key: {
                let mut f = tempfile::NamedTempFile::new().expect("seal key file");
                std::io::Write::write_all(&mut f, b"e2e-seal-key-0123456789abcdef0123456789")
                    .expect("seal key");
                f
            },
        }
    }

    /// The gRPC address of a service.
    pub fn grpc_addr(&self, service: ServiceName) -> String {
        format!("127.0.0.1:{}", self.ports[&service].0)
    }

    /// The admin address of a service.
    pub fn admin_addr(&self, service: ServiceName) -> String {
        format!("127.0.0.1:{}", self.ports[&service].1)
    }

    /// error-ingest's HTTP address.
    pub fn ingest_http_addr(&self) -> String {
        format!("127.0.0.1:{}", self.ingest_http)
    }

    /// The environment every process of this stack gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("NATS_URL".to_owned(), self.nats.nats_url()),
            ("REDIS_URL".to_owned(), self.redis.url()),
            ("NATS_NAMESPACE".to_owned(), self.namespace.clone()),
            (
                "FAULTLINE_READINESS__TTL".to_owned(),
                format!("{}s", TTL.as_secs()),
            ),
            (
                "FAULTLINE_READINESS__RENEW_INTERVAL".to_owned(),
                format!("{}s", RENEW.as_secs()),
            ),
            (
                "FAULTLINE_GATE__POLL_INTERVAL".to_owned(),
                format!("{}ms", POLL.as_millis()),
            ),
            ("FAULTLINE_GATE__LOG_INTERVAL".to_owned(), "1s".to_owned()),
            (
                "FAULTLINE_HEALTH__CHECK_INTERVAL".to_owned(),
                "300ms".to_owned(),
            ),
            (
                "FAULTLINE_SHUTDOWN__GRACE_PERIOD".to_owned(),
                format!("{}s", GRACE.as_secs()),
            ),
            ("FAULTLINE_NATS__BACKOFF_MAX".to_owned(), "1s".to_owned()),
            (
                "FAULTLINE_INGEST__HTTP_ADDR".to_owned(),
                self.ingest_http_addr(),
            ),
            (
                "FAULTLINE_FILTER__SEAL_KEY_FILE".to_owned(),
                self.seal_key.path().display().to_string(),
            ),
            (
                "FAULTLINE_INGEST__API_KEYS".to_owned(),
                format!(
                    "{}:e2e:{}",
                    self.namespace,
                    faultline_error_ingest::auth::stored_form(API_KEY)
                ),
            ),
        ];
        if self.nats.replicas() > 1 {
            env.push((
                "FAULTLINE_PROVISION__REPLICAS".to_owned(),
                self.nats.replicas().to_string(),
            ));
        }
        for s in ServiceName::ALL {
            let key = s.config_key().to_ascii_uppercase();
            env.push((
                format!("FAULTLINE_SERVICES__{key}__GRPC_ADDR"),
                self.grpc_addr(s),
            ));
            env.push((
                format!("FAULTLINE_SERVICES__{key}__ADMIN_ADDR"),
                self.admin_addr(s),
            ));
        }
        env
    }

    /// Starts a service binary with the stack's environment plus `extra`.
    pub fn spawn_with(&self, service: ServiceName, extra: &[(&str, &str)]) -> ServiceProcess {
        let mut env = self.env();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        ServiceProcess::spawn(&bin(service.binary()), &[], &env)
            .unwrap_or_else(|e| panic!("spawn {service}: {e}"))
    }

    /// Starts another replica of a service on its own free ports (gRPC,
    /// admin and, for error-ingest, HTTP) as instance `instance`; returns
    /// the process and its gRPC address. The stack's own addresses keep
    /// pointing at the first replica.
    pub fn spawn_replica(
        &self,
        service: ServiceName,
        instance: &str,
        extra: &[(&str, &str)],
    ) -> Replica {
        let key = service.config_key().to_ascii_uppercase();
        let grpc = format!("127.0.0.1:{}", free_port());
        let admin = format!("127.0.0.1:{}", free_port());
        let http = format!("127.0.0.1:{}", free_port());
        let (grpc_key, admin_key) = (
            format!("FAULTLINE_SERVICES__{key}__GRPC_ADDR"),
            format!("FAULTLINE_SERVICES__{key}__ADMIN_ADDR"),
        );
        let mut env: Vec<(&str, &str)> = vec![
            ("FAULTLINE_INSTANCE", instance),
            (&grpc_key, &grpc),
            (&admin_key, &admin),
        ];
        if service == ServiceName::ErrorIngest {
            env.push(("FAULTLINE_INGEST__HTTP_ADDR", &http));
        }
        env.extend_from_slice(extra);
        Replica {
            process: self.spawn_with(service, &env),
            grpc_addr: grpc.clone(),
            http_addr: (service == ServiceName::ErrorIngest).then_some(http.clone()),
        }
    }

    /// Starts a service binary with the stack's environment.
    pub fn spawn(&self, service: ServiceName) -> ServiceProcess {
        self.spawn_with(service, &[])
    }

    /// Runs a binary to completion with the stack's environment plus `extra`.
    pub fn run(&self, binary_name: &str, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(bin(binary_name));
        cmd.args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("FAULTLINE_")
                || k == "NATS_URL"
                || k == "REDIS_URL"
                || k == "NATS_NAMESPACE"
            {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env());
        cmd.envs(extra.iter().copied());
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("run {binary_name}: {e}"));
        Output {
            code: out.status.code(),
            text: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// The grpc.health.v1 status of a service's `""` name, as the
    /// healthcheck exit code (0 serving, 2 connect failed, 4 not serving...).
    pub async fn probe(&self, service: ServiceName) -> i32 {
        faultline_core::healthcheck::probe(&self.grpc_addr(service), "", Duration::from_secs(1))
            .await
    }

    /// Waits until `service` answers with exit code `code`.
    pub async fn wait_probe(&self, service: ServiceName, code: i32, timeout: Duration) {
        faultline_testkit::eventually(timeout, &format!("{service} probe = {code}"), || async {
            (self.probe(service).await == code).then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// A reader of this stack's readiness signals.
    pub async fn readiness(&self) -> Readiness {
        let cfg = RedisConfig {
            url: Url::new(self.redis.url()),
            ..RedisConfig::default()
        };
        let conn = faultline_core::redis_client::connect(&cfg)
            .await
            .expect("connect to redis");
        Readiness::new(
            conn,
            Names::new(Namespace::new(&self.namespace).unwrap()),
            TTL,
        )
    }
}

/// A further replica of a service, from [`Stack::spawn_replica`].
#[derive(Debug)]
pub struct Replica {
    /// The running binary.
    pub process: ServiceProcess,
    /// Its gRPC address.
    pub grpc_addr: String,
    /// Its HTTP address (error-ingest only).
    pub http_addr: Option<String>,
}

/// A finished process.
#[derive(Debug)]
pub struct Output {
    /// Exit code (None: killed by a signal).
    pub code: Option<i32>,
    /// stdout followed by stderr.
    pub text: String,
}

/// Path of a workspace binary.
pub fn bin(name: &str) -> PathBuf {
    binary(name).unwrap_or_else(|e| panic!("{e}"))
}
