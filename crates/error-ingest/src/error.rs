//! Why an event was not taken, and what each interface answers.

use std::time::Duration;

use faultline_event::EventError;

use crate::auth::AuthError;

/// Why an event was not taken.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The event itself is bad.
    #[error(transparent)]
    Invalid(#[from] EventError),
    /// The body could not be decoded (bad gzip, unsupported encoding or type).
    #[error("{message}")]
    Encoding {
        /// What is wrong.
        message: String,
        /// The stable code (`bad_encoding`, `unsupported_encoding`, `unsupported_media_type`).
        code: &'static str,
    },
    /// An environment that has no stream.
    #[error("unknown environment {environment:?}; configured: {known}")]
    UnknownEnvironment {
        /// The event's environment.
        environment: String,
        /// The configured ones.
        known: String,
    },
    /// A batch larger than allowed.
    #[error("batch of {size} events; the limit is {limit}")]
    BatchTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Over the key's rate limit.
    #[error("rate limit exceeded; retry after {retry_after:?}")]
    RateLimited {
        /// When to retry.
        retry_after: Duration,
    },
    /// JetStream could not take the event now (or too much is in flight); retry.
    #[error("cannot store the event now: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
        /// When to retry.
        retry_after: Duration,
    },
}

impl IngestError {
    /// A stable code for API bodies.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::Invalid(e) => e.code(),
            IngestError::Encoding { code, .. } => code,
            IngestError::UnknownEnvironment { .. } => "unknown_environment",
            IngestError::BatchTooLarge { .. } => "batch_too_large",
            IngestError::Auth(AuthError::Missing) => "missing_api_key",
            IngestError::Auth(AuthError::Unknown) => "invalid_api_key",
            IngestError::Auth(AuthError::WrongProject { .. }) => "wrong_project",
            IngestError::RateLimited { .. } => "rate_limited",
            IngestError::Unavailable { .. } => "unavailable",
        }
    }

    /// The HTTP status.
    pub fn http_status(&self) -> u16 {
        match self {
            IngestError::Invalid(EventError::TooLarge { .. })
            | IngestError::BatchTooLarge { .. } => 413,
            IngestError::Invalid(EventError::InvalidUtf8 { .. } | EventError::Malformed { .. }) => {
                400
            }
            IngestError::Invalid(_) | IngestError::UnknownEnvironment { .. } => 422,
            IngestError::Encoding { code, .. } => {
                if *code == "bad_encoding" {
                    400
                } else {
                    415
                }
            }
            IngestError::Auth(AuthError::WrongProject { .. }) => 403,
            IngestError::Auth(_) => 401,
            IngestError::RateLimited { .. } => 429,
            IngestError::Unavailable { .. } => 503,
        }
    }

    /// The gRPC status code.
    pub fn grpc_code(&self) -> tonic::Code {
        match self {
            IngestError::Invalid(_)
            | IngestError::Encoding { .. }
            | IngestError::UnknownEnvironment { .. }
            | IngestError::BatchTooLarge { .. } => tonic::Code::InvalidArgument,
            IngestError::Auth(AuthError::WrongProject { .. }) => tonic::Code::PermissionDenied,
            IngestError::Auth(_) => tonic::Code::Unauthenticated,
            IngestError::RateLimited { .. } => tonic::Code::ResourceExhausted,
            IngestError::Unavailable { .. } => tonic::Code::Unavailable,
        }
    }

    /// When the caller may retry, for 429 and 503.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            IngestError::RateLimited { retry_after }
            | IngestError::Unavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The outcome label for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            IngestError::Invalid(EventError::TooLarge { .. })
            | IngestError::BatchTooLarge { .. } => "too_large",
            IngestError::Invalid(_)
            | IngestError::Encoding { .. }
            | IngestError::UnknownEnvironment { .. } => "invalid",
            IngestError::Auth(_) => "unauthorized",
            IngestError::RateLimited { .. } => "rate_limited",
            IngestError::Unavailable { .. } => "unavailable",
        }
    }
}

/// Whole seconds for `Retry-After` (at least 1).
pub fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}
