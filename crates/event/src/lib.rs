//! faultline's error event, shared by every part that reads one.
//!
//! - [`ErrorEvent`]: the schema. The seed documents' JSON
//!   (`{"error", "stack", "timestamp", "context": {"file", "line", "request_id"}}`)
//!   is valid as it is; Sentry-style fields (exception with frames, level,
//!   environment, release, server name, tags, user, a client fingerprint) are
//!   optional. Unknown top-level fields are refused.
//! - [`parse`]: bytes → event, with [`Limits`] on size, string length,
//!   nesting depth, frames and map sizes, and an [`EventError`] that says
//!   exactly what is wrong and where.
//! - [`fingerprint`]: the versioned (`v1:`) grouping key, and [`normalize`],
//!   which replaces the variable parts of a message before hashing.
//!
//! - [`headers`] and [`task`]: what travels with an event on NATS, and the
//!   task message the injection-filter makes of a clean one.
//!
//! Everything here is pure: no I/O, no clock, no randomness.

mod fingerprint;
pub mod headers;
mod model;
mod normalize;
pub mod task;
mod validate;

pub use fingerprint::{default_components, fingerprint, FINGERPRINT_VERSION};
pub use model::{ErrorEvent, Exception, Frame, Level, Timestamp, User};
pub use normalize::normalize;
pub use validate::{parse, EventError, Limits};
