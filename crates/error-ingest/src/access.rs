//! Who may write, and how fast: the one check both interfaces (HTTP and
//! gRPC) run before an event enters the pipeline.

use std::sync::Arc;

use faultline_core::names::Namespace;

use crate::auth::{presented, ApiKeys, Principal};
use crate::error::IngestError;
use crate::limiter::RateLimiter;

/// API keys and rate limits of the namespace this error-ingest serves.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    keys: Arc<ApiKeys>,
    limiter: Arc<RateLimiter>,
    namespace: Namespace,
}

impl Access {
    pub(crate) fn new(keys: ApiKeys, limiter: RateLimiter, namespace: Namespace) -> Self {
        Self {
            keys: Arc::new(keys),
            limiter: Arc::new(limiter),
            namespace,
        }
    }

    /// Authenticates the key presented in `Authorization: Bearer …` or
    /// `X-API-Key`, then takes `cost` tokens from its bucket.
    pub(crate) fn authorize(
        &self,
        authorization: Option<&str>,
        x_api_key: Option<&str>,
        cost: f64,
    ) -> Result<Principal, IngestError> {
        let principal = self
            .keys
            .authenticate(presented(authorization, x_api_key), &self.namespace)?;
        self.charge(&principal, cost)?;
        Ok(principal)
    }

    /// Takes `cost` more tokens from an authenticated caller's bucket.
    pub(crate) fn charge(&self, principal: &Principal, cost: f64) -> Result<(), IngestError> {
        self.limiter
            .check(&principal.name, cost)
            .map_err(|retry_after| IngestError::RateLimited { retry_after })
    }
}
