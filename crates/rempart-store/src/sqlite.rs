//! SQLite backend (embedded default). Times are stored as microseconds
//! since the Unix epoch; uuids as 16-byte blobs.

use std::path::Path;

use rempart_crypto::{ApiKey, KeyHash};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, QueryBuilder, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    ChunkRow, Conversation, Deleted, DocumentRow, Erasure, ErasureCounts, Error, Inserted,
    KeyRecord, NewDocument, NewSubject, PseudonymMap, Purged, Subject, TenantKey, Turn,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone, Debug)]
pub(crate) struct Sqlite {
    pool: SqlitePool,
}

fn to_us(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

fn from_us(table: &'static str, us: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).map_err(|_| Error::Corrupt {
        table,
        what: "time out of range".into(),
    })
}

fn opt_from_us(table: &'static str, us: Option<i64>) -> Result<Option<OffsetDateTime>, Error> {
    us.map(|u| from_us(table, u)).transpose()
}

impl Sqlite {
    pub(crate) async fn open(path: &Path) -> Result<Sqlite, Error> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5))
            // Deleted rows are overwritten, not left in free pages: a
            // deleted document's wrapped key does not linger in the file.
            .pragma("secure_delete", "on")
            .disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Sqlite { pool })
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    // === API keys ===

    pub(crate) async fn insert_key(
        &self,
        tenant: &str,
        key: &ApiKey,
        label: Option<&str>,
        now: &str,
        groups: &str,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant, hash, label, created_at, groups)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id())
        .bind(tenant)
        .bind(key.hash().to_hex())
        .bind(label)
        .bind(now)
        .bind(groups)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn key_by_id(&self, id: &str) -> Result<Option<(KeyRecord, KeyHash)>, Error> {
        let row = sqlx::query(
            "SELECT id, tenant, hash, label, created_at, revoked, groups FROM api_keys WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let hash: String = row.try_get("hash")?;
        let hash = KeyHash::from_hex(&hash).ok_or(Error::Corrupt {
            table: "api_keys",
            what: "hash".into(),
        })?;
        Ok(Some((key_record(&row)?, hash)))
    }

    pub(crate) async fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<KeyRecord>, Error> {
        let rows = sqlx::query(
            "SELECT id, tenant, label, created_at, revoked, groups FROM api_keys
             WHERE (?1 IS NULL OR tenant = ?1) ORDER BY created_at, id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_record).collect()
    }

    pub(crate) async fn revoke_key(&self, id: &str) -> Result<bool, Error> {
        let r = sqlx::query("UPDATE api_keys SET revoked = 1 WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    // === Tenant keys ===

    pub(crate) async fn put_tenant_key(
        &self,
        tenant: &str,
        name: &str,
        wrapped: &str,
        created: OffsetDateTime,
    ) -> Result<bool, Error> {
        let r = sqlx::query(
            "INSERT INTO tenant_keys (tenant, name, wrapped, created) VALUES (?, ?, ?, ?)
             ON CONFLICT (tenant, name) DO NOTHING",
        )
        .bind(tenant)
        .bind(name)
        .bind(wrapped)
        .bind(to_us(created))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub(crate) async fn get_tenant_key(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<Option<TenantKey>, Error> {
        let row = sqlx::query(
            "SELECT name, wrapped, created FROM tenant_keys WHERE tenant = ? AND name = ?",
        )
        .bind(tenant)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(TenantKey {
                name: r.try_get("name")?,
                wrapped: r.try_get("wrapped")?,
                created: from_us("tenant_keys", r.try_get("created")?)?,
            })
        })
        .transpose()
    }

    // === Subjects ===

    pub(crate) async fn insert_subject(&self, tenant: &str, s: &NewSubject) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO subjects (tenant, id, wrapped_key, profile, created) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(tenant)
        .bind(s.id)
        .bind(&s.wrapped_key)
        .bind(&s.profile)
        .bind(to_us(s.created))
        .execute(&mut *tx)
        .await?;
        for (name, value) in &s.index {
            sqlx::query(
                "INSERT INTO subject_index (tenant, subject_id, name, value) VALUES (?, ?, ?, ?)",
            )
            .bind(tenant)
            .bind(s.id)
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        for token in &s.tokens {
            sqlx::query("INSERT INTO subject_tokens (tenant, subject_id, token) VALUES (?, ?, ?)")
                .bind(tenant)
                .bind(s.id)
                .bind(token)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn get_subject(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> Result<Option<Subject>, Error> {
        let row = sqlx::query(
            "SELECT id, wrapped_key, profile, created, erased_at FROM subjects
             WHERE tenant = ? AND id = ?",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(subject).transpose()
    }

    pub(crate) async fn list_subjects(&self, tenant: &str) -> Result<Vec<Subject>, Error> {
        let rows = sqlx::query(
            "SELECT id, wrapped_key, profile, created, erased_at FROM subjects
             WHERE tenant = ? ORDER BY created, id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(subject).collect()
    }

    pub(crate) async fn find_by_index(
        &self,
        tenant: &str,
        name: &str,
        value: &[u8],
    ) -> Result<Vec<Uuid>, Error> {
        let ids = sqlx::query_scalar(
            "SELECT DISTINCT subject_id FROM subject_index
             WHERE tenant = ? AND name = ? AND value = ? ORDER BY subject_id",
        )
        .bind(tenant)
        .bind(name)
        .bind(value)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    pub(crate) async fn find_by_tokens(
        &self,
        tenant: &str,
        tokens: &[Vec<u8>],
    ) -> Result<Vec<Uuid>, Error> {
        // Intersection: the subjects having a row for each distinct token.
        let mut q = QueryBuilder::new("SELECT subject_id FROM subject_tokens WHERE tenant = ");
        q.push_bind(tenant).push(" AND token IN (");
        let mut sep = q.separated(", ");
        for t in tokens {
            sep.push_bind(t.as_slice());
        }
        q.push(") GROUP BY subject_id HAVING COUNT(DISTINCT token) = ")
            .push_bind(tokens.len() as i64)
            .push(" ORDER BY subject_id");
        let ids = q.build_query_scalar().fetch_all(&self.pool).await?;
        Ok(ids)
    }

    pub(crate) async fn find_subjects_by_index(
        &self,
        tenant: &str,
        name: &str,
        value: &[u8],
    ) -> Result<Vec<Subject>, Error> {
        let rows = sqlx::query(
            "SELECT id, wrapped_key, profile, created, erased_at FROM subjects
             WHERE tenant = ? AND id IN (SELECT subject_id FROM subject_index
                                         WHERE tenant = ? AND name = ? AND value = ?)
             ORDER BY id",
        )
        .bind(tenant)
        .bind(tenant)
        .bind(name)
        .bind(value)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(subject).collect()
    }

    pub(crate) async fn find_subjects_by_indexes(
        &self,
        tenant: &str,
        pairs: &[(&str, &[u8])],
    ) -> Result<Vec<(String, Vec<u8>, Subject)>, Error> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::new(
            "SELECT i.name AS index_name, i.value AS index_value, s.id, s.wrapped_key,
                    s.profile, s.created, s.erased_at
             FROM subject_index i JOIN subjects s ON s.tenant = i.tenant AND s.id = i.subject_id
             WHERE i.tenant = ",
        );
        q.push_bind(tenant).push(" AND (");
        for (n, (name, value)) in pairs.iter().enumerate() {
            if n > 0 {
                q.push(" OR ");
            }
            q.push("(i.name = ")
                .push_bind(*name)
                .push(" AND i.value = ")
                .push_bind(*value)
                .push(")");
        }
        q.push(") ORDER BY s.id");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("index_name")?,
                    r.try_get("index_value")?,
                    subject(r)?,
                ))
            })
            .collect()
    }

    pub(crate) async fn find_subjects_by_tokens(
        &self,
        tenant: &str,
        tokens: &[Vec<u8>],
    ) -> Result<Vec<Subject>, Error> {
        let mut q = QueryBuilder::new(
            "SELECT id, wrapped_key, profile, created, erased_at FROM subjects WHERE tenant = ",
        );
        q.push_bind(tenant)
            .push(" AND id IN (SELECT subject_id FROM subject_tokens WHERE tenant = ")
            .push_bind(tenant)
            .push(" AND token IN (");
        let mut sep = q.separated(", ");
        for t in tokens {
            sep.push_bind(t.as_slice());
        }
        q.push(") GROUP BY subject_id HAVING COUNT(DISTINCT token) = ")
            .push_bind(tokens.len() as i64)
            .push(") ORDER BY id");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(subject).collect()
    }

    // === Conversations, turns, pseudonym maps ===

    pub(crate) async fn put_conversation(
        &self,
        tenant: &str,
        c: &Conversation,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO conversations (tenant, id, subject_id, created, expires_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (tenant, id) DO UPDATE
             SET subject_id = excluded.subject_id, expires_at = excluded.expires_at",
        )
        .bind(tenant)
        .bind(c.id)
        .bind(c.subject_id)
        .bind(to_us(c.created))
        .bind(to_us(c.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn get_conversation(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> Result<Option<Conversation>, Error> {
        let row = sqlx::query(
            "SELECT id, subject_id, created, expires_at FROM conversations
             WHERE tenant = ? AND id = ?",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(conversation).transpose()
    }

    pub(crate) async fn list_conversations(
        &self,
        tenant: &str,
        subject: Uuid,
    ) -> Result<Vec<Conversation>, Error> {
        let rows = sqlx::query(
            "SELECT id, subject_id, created, expires_at FROM conversations
             WHERE tenant = ? AND subject_id = ? ORDER BY created, id",
        )
        .bind(tenant)
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(conversation).collect()
    }

    pub(crate) async fn append_turn(&self, tenant: &str, t: &Turn) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO turns (tenant, conversation_id, seq, role, content, created)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant)
        .bind(t.conversation_id)
        .bind(t.seq)
        .bind(&t.role)
        .bind(&t.content)
        .bind(to_us(t.created))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn list_turns(
        &self,
        tenant: &str,
        conversation: Uuid,
    ) -> Result<Vec<Turn>, Error> {
        let rows = sqlx::query(
            "SELECT conversation_id, seq, role, content, created FROM turns
             WHERE tenant = ? AND conversation_id = ? ORDER BY seq",
        )
        .bind(tenant)
        .bind(conversation)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Turn {
                    conversation_id: r.try_get("conversation_id")?,
                    seq: r.try_get("seq")?,
                    role: r.try_get("role")?,
                    content: r.try_get("content")?,
                    created: from_us("turns", r.try_get("created")?)?,
                })
            })
            .collect()
    }

    pub(crate) async fn put_pseudonym_map(
        &self,
        tenant: &str,
        m: &PseudonymMap,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO pseudonym_maps (tenant, conversation_id, subject_id, mapping, updated)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (tenant, conversation_id) DO UPDATE
             SET subject_id = excluded.subject_id, mapping = excluded.mapping,
                 updated = excluded.updated",
        )
        .bind(tenant)
        .bind(m.conversation_id)
        .bind(m.subject_id)
        .bind(&m.mapping)
        .bind(to_us(m.updated))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn get_pseudonym_map(
        &self,
        tenant: &str,
        conversation: Uuid,
    ) -> Result<Option<PseudonymMap>, Error> {
        let row = sqlx::query(
            "SELECT conversation_id, subject_id, mapping, updated FROM pseudonym_maps
             WHERE tenant = ? AND conversation_id = ?",
        )
        .bind(tenant)
        .bind(conversation)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(pseudonym_map).transpose()
    }

    pub(crate) async fn list_pseudonym_maps(
        &self,
        tenant: &str,
        subject: Uuid,
    ) -> Result<Vec<PseudonymMap>, Error> {
        let rows = sqlx::query(
            "SELECT conversation_id, subject_id, mapping, updated FROM pseudonym_maps
             WHERE tenant = ?1 AND (subject_id = ?2 OR conversation_id IN
                 (SELECT id FROM conversations WHERE tenant = ?1 AND subject_id = ?2))
             ORDER BY updated, conversation_id",
        )
        .bind(tenant)
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pseudonym_map).collect()
    }

    pub(crate) async fn purge_expired(
        &self,
        tenant: &str,
        now: OffsetDateTime,
    ) -> Result<Purged, Error> {
        let now = to_us(now);
        let mut tx = self.pool.begin().await?;
        let expired = "SELECT id FROM conversations WHERE tenant = ?1 AND expires_at <= ?2";
        let turns = sqlx::query(&format!(
            "DELETE FROM turns WHERE tenant = ?1 AND conversation_id IN ({expired})"
        ))
        .bind(tenant)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let maps = sqlx::query(&format!(
            "DELETE FROM pseudonym_maps WHERE tenant = ?1 AND conversation_id IN ({expired})"
        ))
        .bind(tenant)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let convs = sqlx::query("DELETE FROM conversations WHERE tenant = ?1 AND expires_at <= ?2")
            .bind(tenant)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Purged {
            conversations: convs,
            turns,
            pseudonym_maps: maps,
        })
    }

    // === Erasure ===

    pub(crate) async fn erase_subject(
        &self,
        tenant: &str,
        subject: Uuid,
        erased_at: OffsetDateTime,
        receipt: &str,
    ) -> Result<ErasureCounts, Error> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT wrapped_key IS NOT NULL AS k, profile IS NOT NULL AS p FROM subjects
             WHERE tenant = ? AND id = ?",
        )
        .bind(tenant)
        .bind(subject)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(Error::NotFound("subject"));
        };
        let mut c = ErasureCounts {
            wrapped_keys: u64::from(row.try_get::<bool, _>("k")?),
            profiles: u64::from(row.try_get::<bool, _>("p")?),
            ..ErasureCounts::default()
        };
        sqlx::query(
            "UPDATE subjects SET wrapped_key = NULL, profile = NULL, erased_at = ?3
             WHERE tenant = ?1 AND id = ?2",
        )
        .bind(tenant)
        .bind(subject)
        .bind(to_us(erased_at))
        .execute(&mut *tx)
        .await?;
        let del = |sql: &'static str| sqlx::query(sql).bind(tenant).bind(subject);
        c.index_rows = del("DELETE FROM subject_index WHERE tenant = ?1 AND subject_id = ?2")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        c.tokens = del("DELETE FROM subject_tokens WHERE tenant = ?1 AND subject_id = ?2")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        c.turns = del("DELETE FROM turns WHERE tenant = ?1 AND conversation_id IN
             (SELECT id FROM conversations WHERE tenant = ?1 AND subject_id = ?2)")
        .execute(&mut *tx)
        .await?
        .rows_affected();
        c.pseudonym_maps = del(
            "DELETE FROM pseudonym_maps WHERE tenant = ?1 AND (subject_id = ?2 OR conversation_id IN
             (SELECT id FROM conversations WHERE tenant = ?1 AND subject_id = ?2))",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        c.conversations = del("DELETE FROM conversations WHERE tenant = ?1 AND subject_id = ?2")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Documents about the subject: their collections' versions move,
        // then chunks, then the rows (their data keys with them; the links
        // cascade).
        del(
            "UPDATE collections SET version = version + 1 WHERE tenant = ?1 AND name IN
             (SELECT collection FROM documents WHERE tenant = ?1 AND id IN
               (SELECT document_id FROM document_subjects WHERE tenant = ?1 AND subject_id = ?2))",
        )
        .execute(&mut *tx)
        .await?;
        c.chunks = del("DELETE FROM chunks WHERE tenant = ?1 AND document_id IN
             (SELECT document_id FROM document_subjects WHERE tenant = ?1 AND subject_id = ?2)")
        .execute(&mut *tx)
        .await?
        .rows_affected();
        c.documents = del("DELETE FROM documents WHERE tenant = ?1 AND id IN
             (SELECT document_id FROM document_subjects WHERE tenant = ?1 AND subject_id = ?2)")
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "INSERT INTO erasures (tenant, subject_id, erased_at, receipt) VALUES (?, ?, ?, ?)",
        )
        .bind(tenant)
        .bind(subject)
        .bind(to_us(erased_at))
        .bind(receipt)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    pub(crate) async fn remaining(
        &self,
        tenant: &str,
        subject: Uuid,
    ) -> Result<ErasureCounts, Error> {
        let r = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM subjects WHERE tenant = ?1 AND id = ?2 AND wrapped_key IS NOT NULL) AS k,
               (SELECT COUNT(*) FROM subjects WHERE tenant = ?1 AND id = ?2 AND profile IS NOT NULL) AS p,
               (SELECT COUNT(*) FROM subject_index WHERE tenant = ?1 AND subject_id = ?2) AS i,
               (SELECT COUNT(*) FROM subject_tokens WHERE tenant = ?1 AND subject_id = ?2) AS t,
               (SELECT COUNT(*) FROM conversations WHERE tenant = ?1 AND subject_id = ?2) AS c,
               (SELECT COUNT(*) FROM turns WHERE tenant = ?1 AND conversation_id IN
                  (SELECT id FROM conversations WHERE tenant = ?1 AND subject_id = ?2)) AS tu,
               (SELECT COUNT(*) FROM pseudonym_maps WHERE tenant = ?1 AND (subject_id = ?2 OR conversation_id IN
                  (SELECT id FROM conversations WHERE tenant = ?1 AND subject_id = ?2))) AS m,
               (SELECT COUNT(*) FROM document_subjects WHERE tenant = ?1 AND subject_id = ?2) AS d,
               (SELECT COUNT(*) FROM chunks WHERE tenant = ?1 AND document_id IN
                  (SELECT document_id FROM document_subjects WHERE tenant = ?1 AND subject_id = ?2)) AS ch",
        )
        .bind(tenant)
        .bind(subject)
        .fetch_one(&self.pool)
        .await?;
        let n = |c: &str| -> Result<u64, Error> { Ok(r.try_get::<i64, _>(c)?.max(0) as u64) };
        Ok(ErasureCounts {
            wrapped_keys: n("k")?,
            profiles: n("p")?,
            index_rows: n("i")?,
            tokens: n("t")?,
            conversations: n("c")?,
            turns: n("tu")?,
            pseudonym_maps: n("m")?,
            documents: n("d")?,
            chunks: n("ch")?,
            vectors: 0,
        })
    }

    // === Collections ===

    /// `vectors` is always empty here: the store refuses vectors without a
    /// vector index before it calls this.
    pub(crate) async fn insert_document(
        &self,
        tenant: &str,
        d: &NewDocument,
        vectors: &[Vec<f32>],
    ) -> Result<Inserted, Error> {
        debug_assert!(vectors.is_empty());
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "INSERT INTO documents (tenant, collection, id, content_key, name, format, pages,
                                    labels, wrapped_key, created)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (tenant, collection, content_key) DO NOTHING",
        )
        .bind(tenant)
        .bind(&d.collection)
        .bind(d.id)
        .bind(&d.content_key)
        .bind(&d.name)
        .bind(&d.format)
        .bind(d.pages)
        .bind(&d.labels)
        .bind(&d.wrapped_key)
        .bind(to_us(d.created))
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            let (id, chunks): (Uuid, i64) = sqlx::query_as(
                "SELECT id, (SELECT COUNT(*) FROM chunks c WHERE c.tenant = d.tenant
                                                         AND c.document_id = d.id)
                 FROM documents d WHERE tenant = ? AND collection = ? AND content_key = ?",
            )
            .bind(tenant)
            .bind(&d.collection)
            .bind(&d.content_key)
            .fetch_one(&mut *tx)
            .await?;
            tx.rollback().await?;
            return Ok(Inserted {
                id,
                created: false,
                chunks: chunks.max(0) as u64,
                version: self.collection_version(tenant, &d.collection).await?,
            });
        }
        for s in &d.subjects {
            // Only a live (not erased) subject of the tenant can be linked.
            let linked = sqlx::query(
                "INSERT INTO document_subjects (tenant, document_id, subject_id)
                 SELECT ?1, ?2, id FROM subjects
                 WHERE tenant = ?1 AND id = ?3 AND wrapped_key IS NOT NULL",
            )
            .bind(tenant)
            .bind(d.id)
            .bind(s)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if linked == 0 {
                tx.rollback().await?;
                return Err(Error::NotFound("subject"));
            }
        }
        for c in &d.chunks {
            sqlx::query(
                "INSERT INTO chunks (tenant, document_id, seq, text, heading, page_start,
                                     page_end, start_offset, end_offset, embedding)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(tenant)
            .bind(d.id)
            .bind(c.seq)
            .bind(&c.text)
            .bind(&c.heading)
            .bind(c.page_start)
            .bind(c.page_end)
            .bind(c.start)
            .bind(c.end)
            .bind(&c.embedding)
            .execute(&mut *tx)
            .await?;
        }
        let version = bump(&mut tx, tenant, &d.collection).await?;
        tx.commit().await?;
        Ok(Inserted {
            id: d.id,
            created: true,
            chunks: d.chunks.len() as u64,
            version,
        })
    }

    pub(crate) async fn link_document_subjects(
        &self,
        tenant: &str,
        collection: &str,
        document: Uuid,
        subjects: &[Uuid],
    ) -> Result<u64, Error> {
        let mut tx = self.pool.begin().await?;
        let there: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM documents WHERE tenant = ? AND collection = ? AND id = ?",
        )
        .bind(tenant)
        .bind(collection)
        .bind(document)
        .fetch_optional(&mut *tx)
        .await?;
        if there.is_none() {
            tx.rollback().await?;
            return Err(Error::NotFound("document"));
        }
        let mut new = 0;
        for s in subjects {
            let live: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM subjects WHERE tenant = ? AND id = ? AND wrapped_key IS NOT NULL",
            )
            .bind(tenant)
            .bind(s)
            .fetch_optional(&mut *tx)
            .await?;
            if live.is_none() {
                tx.rollback().await?;
                return Err(Error::NotFound("subject"));
            }
            new += sqlx::query(
                "INSERT INTO document_subjects (tenant, document_id, subject_id)
                 VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(tenant)
            .bind(document)
            .bind(s)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(new)
    }

    pub(crate) async fn list_documents(
        &self,
        tenant: &str,
        collection: &str,
        id: Option<Uuid>,
    ) -> Result<Vec<DocumentRow>, Error> {
        let rows = sqlx::query(
            "SELECT id, collection, name, format, pages, labels, wrapped_key, created,
                    (SELECT COUNT(*) FROM chunks c WHERE c.tenant = d.tenant
                                                     AND c.document_id = d.id) AS chunks
             FROM documents d WHERE tenant = ?1 AND collection = ?2 AND (?3 IS NULL OR id = ?3)
             ORDER BY created, id",
        )
        .bind(tenant)
        .bind(collection)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DocumentRow {
                    id: r.try_get("id")?,
                    collection: r.try_get("collection")?,
                    name: r.try_get("name")?,
                    format: r.try_get("format")?,
                    pages: r.try_get("pages")?,
                    labels: r.try_get("labels")?,
                    wrapped_key: r.try_get("wrapped_key")?,
                    created: from_us("documents", r.try_get("created")?)?,
                    chunks: r.try_get("chunks")?,
                })
            })
            .collect()
    }

    pub(crate) async fn list_chunks(
        &self,
        tenant: &str,
        collection: &str,
    ) -> Result<Vec<(Uuid, ChunkRow)>, Error> {
        let rows = sqlx::query(
            "SELECT c.document_id, c.seq, c.text, c.heading, c.page_start, c.page_end,
                    c.start_offset, c.end_offset, c.embedding
             FROM chunks c JOIN documents d ON d.tenant = c.tenant AND d.id = c.document_id
             WHERE c.tenant = ?1 AND d.collection = ?2
             ORDER BY d.created, c.document_id, c.seq",
        )
        .bind(tenant)
        .bind(collection)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("document_id")?, chunk_row(r)?)))
            .collect()
    }

    pub(crate) async fn set_chunk_embeddings(
        &self,
        tenant: &str,
        document: Uuid,
        embeddings: &[(i64, Vec<u8>)],
    ) -> Result<u64, Error> {
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for (seq, e) in embeddings {
            n += sqlx::query(
                "UPDATE chunks SET embedding = ?1 WHERE tenant = ?2 AND document_id = ?3 AND seq = ?4",
            )
            .bind(e)
            .bind(tenant)
            .bind(document)
            .bind(seq)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    pub(crate) async fn delete_document(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
    ) -> Result<Option<Deleted>, Error> {
        let mut tx = self.pool.begin().await?;
        let shredded = sqlx::query(
            "UPDATE documents SET wrapped_key = NULL
             WHERE tenant = ?1 AND collection = ?2 AND id = ?3",
        )
        .bind(tenant)
        .bind(collection)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if shredded == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let chunks = sqlx::query("DELETE FROM chunks WHERE tenant = ?1 AND document_id = ?2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM documents WHERE tenant = ?1 AND id = ?2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let version = bump(&mut tx, tenant, collection).await?;
        tx.commit().await?;
        Ok(Some(Deleted {
            chunks,
            vectors: 0,
            version,
        }))
    }

    pub(crate) async fn collection_version(
        &self,
        tenant: &str,
        collection: &str,
    ) -> Result<i64, Error> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT version FROM collections WHERE tenant = ?1 AND name = ?2")
                .bind(tenant)
                .bind(collection)
                .fetch_optional(&self.pool)
                .await?;
        Ok(v.unwrap_or(0))
    }

    pub(crate) async fn list_erasures(
        &self,
        tenant: &str,
        subject: Uuid,
    ) -> Result<Vec<Erasure>, Error> {
        let rows = sqlx::query(
            "SELECT subject_id, erased_at, receipt FROM erasures
             WHERE tenant = ? AND subject_id = ? ORDER BY erased_at",
        )
        .bind(tenant)
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Erasure {
                    subject_id: r.try_get("subject_id")?,
                    erased_at: from_us("erasures", r.try_get("erased_at")?)?,
                    receipt: r.try_get("receipt")?,
                })
            })
            .collect()
    }
}

fn key_record(row: &SqliteRow) -> Result<KeyRecord, Error> {
    Ok(KeyRecord {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        revoked: row.try_get::<i64, _>("revoked")? != 0,
        groups: crate::parse_groups(&row.try_get::<String, _>("groups")?)?,
    })
}

/// Bump a collection's version inside `tx`; the new version.
async fn bump(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    tenant: &str,
    collection: &str,
) -> Result<i64, Error> {
    Ok(sqlx::query_scalar(
        "INSERT INTO collections (tenant, name, version) VALUES (?1, ?2, 1)
         ON CONFLICT (tenant, name) DO UPDATE SET version = version + 1
         RETURNING version",
    )
    .bind(tenant)
    .bind(collection)
    .fetch_one(&mut **tx)
    .await?)
}

fn chunk_row(r: &SqliteRow) -> Result<ChunkRow, Error> {
    Ok(ChunkRow {
        seq: r.try_get("seq")?,
        text: r.try_get("text")?,
        heading: r.try_get("heading")?,
        page_start: r.try_get("page_start")?,
        page_end: r.try_get("page_end")?,
        start: r.try_get("start_offset")?,
        end: r.try_get("end_offset")?,
        embedding: r.try_get("embedding")?,
    })
}

fn subject(r: &SqliteRow) -> Result<Subject, Error> {
    Ok(Subject {
        id: r.try_get("id")?,
        wrapped_key: r.try_get("wrapped_key")?,
        profile: r.try_get("profile")?,
        created: from_us("subjects", r.try_get("created")?)?,
        erased_at: opt_from_us("subjects", r.try_get("erased_at")?)?,
    })
}

fn conversation(r: &SqliteRow) -> Result<Conversation, Error> {
    Ok(Conversation {
        id: r.try_get("id")?,
        subject_id: r.try_get("subject_id")?,
        created: from_us("conversations", r.try_get("created")?)?,
        expires_at: from_us("conversations", r.try_get("expires_at")?)?,
    })
}

fn pseudonym_map(r: &SqliteRow) -> Result<PseudonymMap, Error> {
    Ok(PseudonymMap {
        conversation_id: r.try_get("conversation_id")?,
        subject_id: r.try_get("subject_id")?,
        mapping: r.try_get("mapping")?,
        updated: from_us("pseudonym_maps", r.try_get("updated")?)?,
    })
}

#[cfg(test)]
mod tests {
    use rempart_crypto::PresentedKey;

    use crate::Store;

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

    /// A data directory from before migrations (api_keys made by the old
    /// `CREATE TABLE IF NOT EXISTS`) opens, keeps its keys and gains the
    /// new tables.
    #[tokio::test]
    async fn pre_migration_database_upgrades() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rempart.db");
        {
            use sqlx::ConnectOptions;
            let mut c = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .connect()
                .await
                .unwrap();
            sqlx::query(
                "CREATE TABLE api_keys (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, hash TEXT NOT NULL,
                 label TEXT, created_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)",
            )
            .execute(&mut c)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO api_keys VALUES ('k1', 'acme', 'x', NULL, '2026-01-01T00:00:00Z', 0)",
            )
            .execute(&mut c)
            .await
            .unwrap();
        }
        let store = Store::open(dir.path()).await.unwrap();
        assert_eq!(store.list_keys(None).await.unwrap().len(), 1);
        assert!(store.list_subjects("acme").await.unwrap().is_empty());
    }
}
