//! Step 9 of the request path: the audit record, durable before the answer
//! is released, and the metrics derived from it.
//!
//! The log lives in `<data_dir>/audit`; its Ed25519 signing key is derived
//! from the master key held by the key provider (a local key file by
//! default), never from the configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rempart_audit::{AuditLog, AuditRecord, CheckpointPolicy, Options};
use rempart_crypto::{MasterKey, Purpose};

use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Where the master key file lives in a data directory.
pub fn master_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("master.key")
}

/// Where the audit log lives in a data directory.
pub fn audit_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("audit")
}

/// The audit signing key of a data directory (created with the master key
/// on first use).
pub fn signing_key(data_dir: &Path) -> Result<ed25519_dalek::SigningKey, String> {
    let path = master_key_path(data_dir);
    let (master, created) = MasterKey::load_or_create(&path).map_err(|e| e.to_string())?;
    if created {
        tracing::warn!(
            path = %path.display(),
            "Created a local master key file (mode 0600). Production keeps keys in a KMS (Vault/OpenBao transit)."
        );
    }
    let seed = master.derive(Purpose::AuditSigning);
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// The gateway's handle on the audit log.
pub struct Auditor {
    log: Arc<AuditLog>,
    /// Metrics, observed from each record.
    pub metrics: Metrics,
}

impl Auditor {
    /// Open (or recover) the audit log in the data directory.
    pub fn open(config: &Config) -> Result<Auditor, String> {
        let dir = &config.server.data_dir;
        let key = signing_key(dir)?;
        let options = Options {
            checkpoint: CheckpointPolicy {
                every_records: config.audit.checkpoint_every_records,
                every_secs: config.audit.checkpoint_every_secs,
            },
            fsync: config.audit.fsync_each_commit,
            ..Options::default()
        };
        let log = AuditLog::open_with(audit_dir(dir), key, options)
            .map_err(|e| format!("audit log: {e}"))?;
        Ok(Auditor {
            log: Arc::new(log),
            metrics: Metrics::new(),
        })
    }

    /// Append a record; returns its id once it is durable (fsynced, group
    /// commit). If the log cannot take it, the request fails: no answer
    /// leaves without its record.
    pub async fn record(&self, rec: AuditRecord) -> Result<String, ApiError> {
        self.submit(rec).await
    }

    /// Hand a record to the log writer now; the returned future resolves
    /// once it is durable. Work that does not release the answer (encoding
    /// the response) can overlap the write.
    pub fn submit(
        &self,
        rec: AuditRecord,
    ) -> impl Future<Output = Result<String, ApiError>> + Send + 'static {
        self.metrics.observe(&rec);
        let pending = self.log.submit(rec);
        async move {
            match pending.await {
                Ok(receipt) => Ok(receipt.id),
                Err(e) => {
                    tracing::error!(error = %e, "Audit append failed.");
                    Err(ApiError::Internal {
                        what: "the audit log is unavailable; the answer was withheld".into(),
                    })
                }
            }
        }
    }

    /// Sign a checkpoint now (on shutdown).
    pub fn checkpoint(&self) {
        let log = self.log.clone();
        if let Err(e) = log.checkpoint() {
            tracing::warn!(error = %e, "Final audit checkpoint failed.");
        }
    }

    /// Drop records older than the retention period (whole segments; the
    /// signed anchor keeps what remains verifiable).
    pub fn prune(&self, retention: std::time::Duration) {
        let cutoff = rempart_audit::retention_cutoff(time::OffsetDateTime::now_utc(), retention);
        match self.log.prune_before(cutoff) {
            Ok(r) => tracing::debug!(report = ?r, "Audit retention pass."),
            Err(e) => tracing::warn!(error = %e, "Audit retention pass failed."),
        }
    }
}
