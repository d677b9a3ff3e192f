//! faultline's core: what every service shares and nothing domain-specific.
//!
//! - [`config`]: layered configuration, validated, secrets redacted;
//! - [`names`]: every stream, subject, consumer, bucket and Redis key name;
//! - [`nats`], [`redis_client`]: connections with bounded retries;
//! - [`provision`]: the declared stream table, create-or-update, drift;
//! - [`readiness`], [`gate`]: readiness leases in Redis and the startup gate;
//! - [`health`], [`admin`], [`healthcheck`]: grpc.health.v1, `/livez`
//!   `/readyz` `/metrics`, and the `healthcheck` subcommand;
//! - [`telemetry`], [`metrics`], [`shutdown`]: logs, metrics, signals;
//! - [`service`]: the process life every service binary shares.

pub mod admin;
pub mod config;
pub mod gate;
pub mod health;
pub mod healthcheck;
pub mod metrics;
pub mod names;
pub mod nats;
pub mod provision;
pub mod readiness;
pub mod redis_client;
pub mod service;
pub mod shutdown;
pub mod telemetry;

pub use config::Config;
pub use names::{Names, Namespace, ServiceName};

/// Every faultline binary (and test and bench) links this crate, so they all
/// allocate with mimalloc: the services allocate and free small buffers per
/// request (bodies, JSON values, NATS messages), where glibc's allocator
/// took about a tenth of the CPU of the ingest benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
