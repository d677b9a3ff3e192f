//! error-ingest: the front door for error events.
//!
//! Producers send events by HTTP (`POST /v1/errors`, `POST /v1/errors:batch`),
//! by gRPC (`Report`, `ReportBatch`), or keep publishing straight to
//! `{ns}.errors.<env>` as the seed scripts do. Every event taken here is
//! validated ([`faultline_event::parse`]), authenticated by API key,
//! rate-limited, fingerprinted, counted in Redis (duplicates included: the
//! broker drops duplicates silently, we still count them), and published to
//! JetStream with `Nats-Msg-Id = {ns}-{env}-{fingerprint}-{release}`. The
//! caller hears "accepted" only after the JetStream ack.

mod access;
mod app;
pub mod auth;
pub mod cap;
pub mod counter;
mod error;
mod grpc;
mod http;
pub mod limiter;
mod metrics;
pub mod pipeline;

pub use app::IngestApp;
pub use error::IngestError;
pub use pipeline::{Accepted, Ingestor};

pub use faultline_event::headers;
