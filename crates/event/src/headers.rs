//! NATS headers faultline sets on the messages it publishes, so that
//! downstream never recomputes what is already known.

/// The event's fingerprint (`v1:…`), set by error-ingest.
pub const FINGERPRINT: &str = "Faultline-Fingerprint";
/// The event's id, set by error-ingest.
pub const EVENT_ID: &str = "Faultline-Event-Id";
/// The task's id, on task messages.
pub const TASK_ID: &str = "Faultline-Task-Id";
/// The filter's decision on a task message (`pass`, `flag`, `released`).
pub const FILTER_DECISION: &str = "Faultline-Filter-Decision";
