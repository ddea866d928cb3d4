//! Persistence for Rempart. Embedded default: one SQLite file in the data
//! directory (WAL mode). Holds API keys (hashed) today.
//!
//! Queries are runtime-checked (`sqlx::query`), so the same code can later
//! run on PostgreSQL.

use std::path::Path;
use std::str::FromStr;

use rempart_crypto::{ApiKey, KeyHash, PresentedKey};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Errors of the store. Never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored row is corrupt.
    #[error("corrupt row in {table}: {what}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// What is wrong.
        what: String,
    },
}

/// A stored API key (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Public id.
    pub id: String,
    /// Tenant the key acts for.
    pub tenant: String,
    /// Free-form label.
    pub label: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// The store.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        hash TEXT NOT NULL,
        label TEXT,
        created_at TEXT NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys (tenant)",
];

impl Store {
    /// Open (creating) `<data_dir>/rempart.db`.
    pub async fn open(data_dir: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::Db(sqlx::Error::Io(e)))?;
        let url = format!("sqlite://{}", data_dir.join("rempart.db").display());
        let opts = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&pool).await?;
        }
        Ok(Store { pool })
    }

    /// Create a key for a tenant; returns the key to show once.
    pub async fn create_key(&self, tenant: &str, label: Option<&str>) -> Result<ApiKey, Error> {
        let key = ApiKey::generate();
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        sqlx::query(
            "INSERT INTO api_keys (id, tenant, hash, label, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(key.id())
        .bind(tenant)
        .bind(key.hash().to_hex())
        .bind(label)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(key)
    }

    /// Authenticate a presented key: the record if the key exists, is not
    /// revoked and its secret matches (constant-time).
    pub async fn authenticate(
        &self,
        presented: &PresentedKey<'_>,
    ) -> Result<Option<KeyRecord>, Error> {
        let row = sqlx::query(
            "SELECT id, tenant, hash, label, created_at, revoked FROM api_keys WHERE id = ?",
        )
        .bind(presented.id())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let hash: String = row.try_get("hash")?;
        let hash = KeyHash::from_hex(&hash).ok_or(Error::Corrupt {
            table: "api_keys",
            what: "hash".into(),
        })?;
        let rec = key_record(&row)?;
        Ok((presented.matches(&hash) && !rec.revoked).then_some(rec))
    }

    /// Keys of a tenant (or all).
    pub async fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<KeyRecord>, Error> {
        let rows = sqlx::query(
            "SELECT id, tenant, label, created_at, revoked FROM api_keys
             WHERE (?1 IS NULL OR tenant = ?1) ORDER BY created_at, id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_record).collect()
    }

    /// Revoke a key; false if no such key.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, Error> {
        let r = sqlx::query("UPDATE api_keys SET revoked = 1 WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Close the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn key_record(row: &sqlx::sqlite::SqliteRow) -> Result<KeyRecord, Error> {
    Ok(KeyRecord {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        revoked: row.try_get::<i64, _>("revoked")? != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_round_trip_and_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let key = store.create_key("acme", Some("ci")).await.unwrap();
        let full = key.reveal();
        let rec = store
            .authenticate(&PresentedKey::parse(&full).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rec.tenant, "acme");
        let bad = format!("{}x", &full[..full.len() - 1]);
        let bad = if bad == full {
            format!("{}y", &full[..full.len() - 1])
        } else {
            bad
        };
        assert!(
            store
                .authenticate(&PresentedKey::parse(&bad).unwrap())
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.list_keys(Some("acme")).await.unwrap().len(), 1);
        assert!(store.revoke_key(key.id()).await.unwrap());
        assert!(
            store
                .authenticate(&PresentedKey::parse(&full).unwrap())
                .await
                .unwrap()
                .is_none()
        );
        // The secret is not in the database file.
        store.close().await;
        let secret = full.rsplit('_').next().unwrap();
        for f in ["rempart.db", "rempart.db-wal"] {
            if let Ok(bytes) = std::fs::read(dir.path().join(f)) {
                assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
            }
        }
    }
}
