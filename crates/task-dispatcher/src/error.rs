//! The dispatcher's errors, each with its gRPC code and HTTP status.

/// Why a call was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// Malformed input.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such task, agent, job or dead letter.
    #[error("{0}")]
    NotFound(String),
    /// The id is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// A stale lease, an unregistered agent, a task in the wrong state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The agent holds as many tasks as it may.
    #[error("{0}")]
    AtCapacity(String),
    /// The injection filter refused the text.
    #[error("{0}")]
    Refused(String),
    /// NATS or Redis cannot take it now; retry.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or corrupt data.
    #[error("{0}")]
    Internal(String),
}

impl DispatchError {
    /// The HTTP status of this error.
    pub fn http_status(&self) -> u16 {
        match self {
            DispatchError::InvalidArgument(_) => 400,
            DispatchError::NotFound(_) => 404,
            DispatchError::AlreadyExists(_) | DispatchError::FailedPrecondition(_) => 409,
            DispatchError::AtCapacity(_) => 429,
            DispatchError::Refused(_) => 403,
            DispatchError::Unavailable(_) => 503,
            DispatchError::Internal(_) => 500,
        }
    }

    /// A short machine-readable kind.
    pub fn kind(&self) -> &'static str {
        match self {
            DispatchError::InvalidArgument(_) => "invalid_argument",
            DispatchError::NotFound(_) => "not_found",
            DispatchError::AlreadyExists(_) => "already_exists",
            DispatchError::FailedPrecondition(_) => "failed_precondition",
            DispatchError::AtCapacity(_) => "at_capacity",
            DispatchError::Refused(_) => "refused",
            DispatchError::Unavailable(_) => "unavailable",
            DispatchError::Internal(_) => "internal",
        }
    }
}

impl From<DispatchError> for tonic::Status {
    fn from(e: DispatchError) -> Self {
        match e {
            DispatchError::InvalidArgument(m) => tonic::Status::invalid_argument(m),
            DispatchError::NotFound(m) => tonic::Status::not_found(m),
            DispatchError::AlreadyExists(m) => tonic::Status::already_exists(m),
            DispatchError::FailedPrecondition(m) => tonic::Status::failed_precondition(m),
            DispatchError::AtCapacity(m) => tonic::Status::resource_exhausted(m),
            DispatchError::Refused(m) => tonic::Status::permission_denied(m),
            DispatchError::Unavailable(m) => tonic::Status::unavailable(m),
            DispatchError::Internal(m) => tonic::Status::internal(m),
        }
    }
}
