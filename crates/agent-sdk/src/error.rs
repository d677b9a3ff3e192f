//! The SDK's error: one type with a [`kind`](Error::kind) callers can match,
//! mapped from the dispatcher's gRPC status codes.
//!
//! The mapping follows the table at the top of `dispatch.proto`:
//!
//! | gRPC code | [`ErrorKind`] |
//! |---|---|
//! | `INVALID_ARGUMENT`, `OUT_OF_RANGE` | [`InvalidArgument`](ErrorKind::InvalidArgument) |
//! | `NOT_FOUND` | [`NotFound`](ErrorKind::NotFound) |
//! | `FAILED_PRECONDITION` on `Heartbeat`, `Claim`, `DeregisterAgent` | [`NotRegistered`](ErrorKind::NotRegistered) |
//! | `FAILED_PRECONDITION` on a leased call whose message says `not registered` | [`NotRegistered`](ErrorKind::NotRegistered) |
//! | any other `FAILED_PRECONDITION` on a leased call (`Progress`, `Complete`, `Fail`, `HandBack`) | [`StaleLease`](ErrorKind::StaleLease) |
//! | `RESOURCE_EXHAUSTED` | [`AtCapacity`](ErrorKind::AtCapacity) |
//! | `PERMISSION_DENIED` | [`Refused`](ErrorKind::Refused) |
//! | `UNAVAILABLE`, `DEADLINE_EXCEEDED`, a connect failure, a client-side timeout | [`Unavailable`](ErrorKind::Unavailable) |
//! | anything else | [`Other`](ErrorKind::Other) |
//!
//! `FAILED_PRECONDITION` covers several cases on the server (a stale epoch, a
//! task no longer in a state that allows the call, an agent that is not
//! registered), so the SDK tells them apart by which call failed and, for a
//! leased call, by the words `not registered` in the status message.

use std::fmt;

use tonic::Code;

/// What went wrong, for callers to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The lease is no longer this agent's (its epoch or holder changed, or the
    /// task left the state that allows the call). Stop working on the task.
    StaleLease,
    /// The dispatcher does not know this agent (never registered, or its
    /// presence expired). The SDK re-registers on its own; retry the call.
    NotRegistered,
    /// The agent already holds `max_tasks` tasks.
    AtCapacity,
    /// The injection filter refused the text.
    Refused,
    /// No such task, agent, job or dead letter.
    NotFound,
    /// Malformed input (a bad id, an endpoint that does not parse, ...).
    InvalidArgument,
    /// The dispatcher cannot take the call now (it, NATS or Redis is down, or
    /// the call timed out). Retry with a backoff.
    Unavailable,
    /// The agent is shutting down or shut down; no more claims.
    Shutdown,
    /// Anything else.
    Other,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::StaleLease => "stale lease",
            Self::NotRegistered => "agent not registered",
            Self::AtCapacity => "agent at capacity",
            Self::Refused => "refused by the injection filter",
            Self::NotFound => "not found",
            Self::InvalidArgument => "invalid argument",
            Self::Unavailable => "dispatcher unavailable",
            Self::Shutdown => "agent shut down",
            Self::Other => "error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which call failed; `FAILED_PRECONDITION` means different things per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Register,
    Heartbeat,
    Claim,
    Deregister,
    /// `Progress`, `Complete`, `Fail`, `HandBack`: calls that carry a lease.
    Leased,
}

/// The error every SDK call returns.
#[derive(thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    code: Option<Code>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// True when the same call may succeed later: [`ErrorKind::Unavailable`].
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }

    /// The gRPC status code, when the error came from the dispatcher.
    pub fn code(&self) -> Option<Code> {
        self.code
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// An error raised by the SDK itself, not by the dispatcher.
    pub(crate) fn local(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            code: None,
            source: None,
        }
    }

    /// An error from a gRPC status returned by `call`.
    pub(crate) fn from_status(status: tonic::Status, call: Call) -> Self {
        let kind = kind_for(status.code(), status.message(), call);
        Self {
            kind,
            message: status.message().to_owned(),
            code: Some(status.code()),
            source: Some(Box::new(status)),
        }
    }

    /// The channel could not be opened.
    pub(crate) fn connect(endpoint: &str, err: tonic::transport::Error) -> Self {
        Self {
            kind: ErrorKind::Unavailable,
            message: format!("cannot connect to the task-dispatcher at {endpoint}"),
            code: None,
            source: Some(Box::new(err)),
        }
    }

    /// No answer within the SDK's own deadline.
    pub(crate) fn timeout(what: &str, after: std::time::Duration) -> Self {
        Self::local(
            ErrorKind::Unavailable,
            format!("{what}: no answer within {after:?}"),
        )
    }
}

// Debug prints the kind, the message and the whole cause chain on one line, so
// a `{:?}` in a log says everything.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)?;
        if let Some(code) = self.code {
            write!(f, " (grpc {code:?})")?;
        }
        let mut cause = std::error::Error::source(self);
        while let Some(err) = cause {
            write!(f, "\n  caused by: {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

/// The kind for a status code from `call` (see the module docs for the table).
pub(crate) fn kind_for(code: Code, message: &str, call: Call) -> ErrorKind {
    match code {
        Code::InvalidArgument | Code::OutOfRange => ErrorKind::InvalidArgument,
        Code::NotFound => ErrorKind::NotFound,
        Code::FailedPrecondition => match call {
            Call::Heartbeat | Call::Claim | Call::Deregister => ErrorKind::NotRegistered,
            Call::Leased if mentions_not_registered(message) => ErrorKind::NotRegistered,
            Call::Leased => ErrorKind::StaleLease,
            Call::Register => ErrorKind::Other,
        },
        Code::ResourceExhausted => ErrorKind::AtCapacity,
        Code::PermissionDenied => ErrorKind::Refused,
        Code::Unavailable | Code::DeadlineExceeded => ErrorKind::Unavailable,
        _ => ErrorKind::Other,
    }
}

fn mentions_not_registered(message: &str) -> bool {
    message.to_ascii_lowercase().contains("not registered")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_documented_kinds() {
        let cases = [
            (Code::InvalidArgument, ErrorKind::InvalidArgument),
            (Code::OutOfRange, ErrorKind::InvalidArgument),
            (Code::NotFound, ErrorKind::NotFound),
            (Code::ResourceExhausted, ErrorKind::AtCapacity),
            (Code::PermissionDenied, ErrorKind::Refused),
            (Code::Unavailable, ErrorKind::Unavailable),
            (Code::DeadlineExceeded, ErrorKind::Unavailable),
            (Code::Internal, ErrorKind::Other),
            (Code::Unknown, ErrorKind::Other),
            (Code::Unauthenticated, ErrorKind::Other),
            (Code::Cancelled, ErrorKind::Other),
        ];
        for (code, kind) in cases {
            assert_eq!(kind_for(code, "x", Call::Leased), kind, "{code:?}");
            assert_eq!(kind_for(code, "x", Call::Claim), kind, "{code:?}");
        }
    }

    #[test]
    fn failed_precondition_depends_on_the_call() {
        let fp = Code::FailedPrecondition;
        assert_eq!(
            kind_for(fp, "agent a not registered", Call::Heartbeat),
            ErrorKind::NotRegistered
        );
        assert_eq!(kind_for(fp, "", Call::Claim), ErrorKind::NotRegistered);
        assert_eq!(kind_for(fp, "", Call::Deregister), ErrorKind::NotRegistered);
        assert_eq!(kind_for(fp, "", Call::Register), ErrorKind::Other);
        assert_eq!(
            kind_for(fp, "stale lease: epoch 3, current 4", Call::Leased),
            ErrorKind::StaleLease
        );
        assert_eq!(
            kind_for(fp, "task t1 is completed", Call::Leased),
            ErrorKind::StaleLease
        );
        assert_eq!(
            kind_for(
                fp,
                "agent a1 is Not Registered; register again",
                Call::Leased
            ),
            ErrorKind::NotRegistered
        );
    }

    #[test]
    fn only_unavailable_is_retryable() {
        let err = Error::from_status(tonic::Status::unavailable("nats down"), Call::Leased);
        assert!(err.is_retryable());
        assert_eq!(err.code(), Some(Code::Unavailable));
        assert_eq!(err.message(), "nats down");
        let err = Error::from_status(tonic::Status::failed_precondition("stale"), Call::Leased);
        assert!(!err.is_retryable());
        assert_eq!(err.kind(), ErrorKind::StaleLease);
        assert!(Error::timeout("claim", std::time::Duration::from_secs(1)).is_retryable());
        assert!(!Error::local(ErrorKind::Shutdown, "closing").is_retryable());
    }

    #[test]
    fn display_and_debug_say_what_and_why() {
        let err = Error::from_status(tonic::Status::not_found("no task t9"), Call::Leased);
        assert_eq!(err.to_string(), "not found: no task t9");
        let debug = format!("{err:?}");
        assert!(
            debug.starts_with("NotFound: no task t9 (grpc NotFound)"),
            "{debug}"
        );
        assert!(debug.contains("caused by:"), "{debug}");
    }
}
