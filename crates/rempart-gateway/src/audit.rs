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

/// The log options the configuration asks for (checkpoints, durability);
/// every writer of a data directory's log uses them.
pub fn log_options(config: &Config) -> Options {
    Options {
        checkpoint: CheckpointPolicy {
            every_records: config.audit.checkpoint_every_records,
            every_secs: config.audit.checkpoint_every_secs,
        },
        fsync: config.audit.fsync_each_commit,
        ..Options::default()
    }
}

/// The tombstone recording a data subject's erasure.
pub fn subject_tombstone(subject: &str) -> rempart_audit::Tombstone {
    rempart_audit::Tombstone {
        id: uuid::Uuid::now_v7().to_string(),
        ts: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        erases: format!("subject:{subject}"),
        reason: "gdpr_art17_request".into(),
    }
}

/// Ids of the records in the log at `dir` whose `subject_ref` is `subject`.
pub fn records_of_subject(
    dir: &Path,
    key: &ed25519_dalek::VerifyingKey,
    subject: &str,
) -> Result<Vec<String>, String> {
    if !dir.join("segments").exists() {
        return Ok(Vec::new());
    }
    Ok(rempart_audit::read_entries(dir, key)
        .map_err(|e| format!("audit log: {e}"))?
        .into_iter()
        .filter_map(|(_, e)| match e {
            rempart_audit::EntryBody::Record(r) if r.subject_ref.as_deref() == Some(subject) => {
                Some(r.id)
            }
            _ => None,
        })
        .collect())
}

/// The gateway's handle on the audit log.
pub struct Auditor {
    log: Arc<AuditLog>,
    dir: PathBuf,
    /// Metrics, observed from each record.
    pub metrics: Metrics,
}

impl Auditor {
    /// Open (or recover) the audit log in the data directory.
    pub fn open(config: &Config) -> Result<Auditor, String> {
        let dir = &config.server.data_dir;
        let key = signing_key(dir)?;
        let log = AuditLog::open_with(audit_dir(dir), key, log_options(config))
            .map_err(|e| format!("audit log: {e}"))?;
        Ok(Auditor {
            log: Arc::new(log),
            dir: audit_dir(dir),
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

    /// Append an erasure tombstone for a data subject (GDPR Art. 17): the
    /// log keeps its records (they hold no content) and states, verifiably,
    /// when the subject's data was erased. Returns the tombstone's id.
    pub async fn tombstone_subject(&self, subject: &str) -> Result<String, ApiError> {
        match self.log.submit_tombstone(subject_tombstone(subject)).await {
            Ok(receipt) => Ok(receipt.id),
            Err(e) => {
                tracing::error!(error = %e, "Audit tombstone failed.");
                Err(ApiError::Internal {
                    what: "the audit log is unavailable".into(),
                })
            }
        }
    }

    /// Ids of the audit records that name a data subject (`subject_ref`).
    pub async fn records_of_subject(&self, subject: &str) -> Result<Vec<String>, ApiError> {
        let dir = self.dir.clone();
        let key = self.log.public_key();
        let subject = subject.to_owned();
        tokio::task::spawn_blocking(move || records_of_subject(&dir, &key, &subject))
            .await
            .map_err(|_| ApiError::Internal {
                what: "audit reader task failed".into(),
            })?
            .map_err(|e| ApiError::Internal { what: e })
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
