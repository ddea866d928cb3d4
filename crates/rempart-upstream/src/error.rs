//! Upstream errors. They name the deployment, the status and the provider's
//! error code — never prompt text or the provider's message (which may quote
//! the prompt).

/// An upstream call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Setup(String),
    /// The admitted proof does not name this deployment (a bug, refused).
    #[error("deployment {deployment} was not admitted for this request")]
    NotAdmitted {
        /// Deployment.
        deployment: String,
    },
    /// Could not connect.
    #[error("deployment {deployment}: connection failed")]
    Connect {
        /// Deployment.
        deployment: String,
    },
    /// No answer (or no next chunk) in time.
    #[error("deployment {deployment}: timed out")]
    Timeout {
        /// Deployment.
        deployment: String,
    },
    /// The upstream answered with an error status.
    #[error("deployment {deployment}: HTTP {status}{}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Status {
        /// Deployment.
        deployment: String,
        /// HTTP status.
        status: u16,
        /// Provider's error code or type.
        code: Option<String>,
        /// `Retry-After` seconds.
        retry_after: Option<u64>,
    },
    /// The connection broke (mid-body or mid-stream).
    #[error("deployment {deployment}: connection broken")]
    Broken {
        /// Deployment.
        deployment: String,
    },
    /// The upstream spoke something else than the protocol.
    #[error("deployment {deployment}: {what}")]
    Protocol {
        /// Deployment.
        deployment: String,
        /// What was wrong.
        what: &'static str,
    },
}

impl UpstreamError {
    /// Whether another admitted deployment should be tried: the failure says
    /// nothing about the request itself.
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Connect { .. }
            | UpstreamError::Timeout { .. }
            | UpstreamError::Broken { .. }
            | UpstreamError::Protocol { .. } => true,
            UpstreamError::Status { status, .. } => {
                *status == 408 || *status == 429 || *status >= 500
            }
            UpstreamError::Setup(_) | UpstreamError::NotAdmitted { .. } => false,
        }
    }

    /// Whether the failure counts against the deployment's health.
    pub fn counts_as_failure(&self) -> bool {
        self.is_retryable()
    }
}
