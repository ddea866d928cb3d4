//! PostgreSQL backend (production) with Row-Level Security per tenant, and
//! the admin side: migrations and the application role.
//!
//! # Roles
//!
//! - The **admin** (owner) connection runs [`migrate`] and [`bootstrap`]
//!   only: DDL, role creation, grants.
//! - The **application role** serves every request: `LOGIN`, no superuser,
//!   no `BYPASSRLS`, no `CREATEDB`/`CREATEROLE`, not the owner of any table,
//!   `SELECT, INSERT, UPDATE, DELETE` on the Rempart tables (on `api_keys`:
//!   `SELECT, INSERT` and `UPDATE (revoked)`) and nothing else. It cannot
//!   disable Row-Level Security (only an owner can) nor `SET ROLE` to the
//!   owner (it is not a member).
//!
//! Every tenant table has Row-Level Security ENABLEd and FORCEd with a
//! policy `USING` and `WITH CHECK` on `tenant = current_setting(
//! 'rempart.tenant', true)`. The store sets that setting **per transaction**
//! (`set_config('rempart.tenant', $1, true)` inside the transaction that runs
//! the statements), so a pooled connection never carries a tenant into the
//! next request; with no tenant set nothing is visible.
//!
//! # Setting up a database
//!
//! ```text
//! rempart store bootstrap --admin-url env:REMPART_PG_ADMIN_URL \
//!     --app-role rempart_app --app-password env:REMPART_PG_APP_PASSWORD
//! ```
//! (the CLI wiring is the caller's; the code is [`bootstrap`]), then run the
//! gateway with `postgres://rempart_app:…@host/db` as its store URL.

use std::str::FromStr;

use rempart_crypto::{ApiKey, KeyHash};
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Postgres as Pg, Row, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    ChunkRow, Conversation, Deleted, DocumentRow, Erasure, ErasureCounts, Error, Inserted,
    KeyRecord, NewDocument, NewSubject, PseudonymMap, Purged, Subject, TenantKey, Turn, VECTOR_DIM,
    VectorHit, VectorQuery, VectorSearch,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The tables the application role works on (all carry a `tenant` column
/// and Row-Level Security).
pub const TENANT_TABLES: &[&str] = &[
    "api_keys",
    "tenant_keys",
    "subjects",
    "subject_index",
    "subject_tokens",
    "conversations",
    "turns",
    "pseudonym_maps",
    "erasures",
    "documents",
    "document_subjects",
    "chunks",
    "collections",
];

/// The vector index tables (migration 0005), present only on a server with
/// pgvector: the vectors, and the label sets of each collection with their
/// counts; Row-Level Security and the tenant policy as on [`TENANT_TABLES`].
pub const VECTOR_TABLES: &[&str] = &["chunk_vectors", "chunk_label_sets"];

/// Links per node of the HNSW index on layer 0 (2 m, m = 16 in migration
/// 0005): the walk-cost estimate of the exact-scan decision uses it.
const HNSW_LINKS: f64 = 32.0;

fn options(url: &SecretString) -> Result<PgConnectOptions, Error> {
    // The parse error is not forwarded: it may quote the URL.
    let opts = PgConnectOptions::from_str(url.expose_secret())
        .map_err(|_| Error::BadUrl("cannot parse the PostgreSQL URL"))?;
    Ok(opts.disable_statement_logging())
}

/// The application role to create or update.
pub struct AppRole {
    /// Role name (letters, digits, `_`; at most 63 bytes).
    pub name: String,
    /// Its password; `None` leaves it unset (e.g. trust or certificate auth).
    pub password: Option<SecretString>,
}

fn check_role_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
        && !name.starts_with("pg_");
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            what: "application role name",
            why: "use lowercase letters, digits and `_` (not first digit, no `pg_` prefix, at most 63 bytes)",
        })
    }
}

/// Apply the PostgreSQL migrations, connected with an admin (owner) URL,
/// then create the vector index if the server has pgvector and it is not
/// there yet (see [`bootstrap`]).
pub async fn migrate(admin_url: &SecretString) -> Result<(), Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options(admin_url)?)
        .await?;
    let r = migrate_on(&pool).await;
    pool.close().await;
    r.map(|_| ())
}

/// Migrations, then `rempart_vector_schema()` (migration 0005): true when
/// the vector index exists afterwards.
async fn migrate_on(pool: &PgPool) -> Result<bool, Error> {
    MIGRATOR.run(pool).await?;
    Ok(sqlx::query_scalar("SELECT rempart_vector_schema()")
        .fetch_one(pool)
        .await?)
}

/// Migrate, then create (or update) the least-privilege application role
/// and grant it DML on the Rempart tables, connected with an admin URL.
/// Idempotent.
///
/// The vector index (`chunk_vectors`, migration 0005) is created when the
/// server has pgvector and the admin may `CREATE EXTENSION vector` (a
/// superuser; pgvector is not a trusted extension) or the extension exists
/// already. Installed later: create the extension as a superuser and run
/// the bootstrap again. [`crate::Store::has_vector_index`] tells the
/// gateway which it got.
pub async fn bootstrap(admin_url: &SecretString, role: &AppRole) -> Result<(), Error> {
    check_role_name(&role.name)?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options(admin_url)?)
        .await?;
    let r = bootstrap_on(&pool, role).await;
    pool.close().await;
    r
}

async fn bootstrap_on(pool: &PgPool, role: &AppRole) -> Result<(), Error> {
    migrate_on(pool).await?;
    let mut tx = pool.begin().await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&role.name)
            .fetch_one(&mut *tx)
            .await?;
    let verb = if exists { "ALTER" } else { "CREATE" };
    let attrs = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT";
    // Identifiers and literals are quoted by the server (`format` %I / %L):
    // DDL takes no bind parameters.
    let stmt: String = match &role.password {
        Some(p) => {
            sqlx::query_scalar(&format!(
                "SELECT format('{verb} ROLE %I {attrs} PASSWORD %L', $1::text, $2::text)"
            ))
            .bind(&role.name)
            .bind(p.expose_secret())
            .fetch_one(&mut *tx)
            .await?
        }
        None => {
            sqlx::query_scalar(&format!(
                "SELECT format('{verb} ROLE %I {attrs}', $1::text)"
            ))
            .bind(&role.name)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    sqlx::raw_sql(&stmt).execute(&mut *tx).await?;
    let grants: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT unnest(ARRAY[
            format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $1::text),
            format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), $1::text),
            format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', current_schema(), $1::text),
            format('GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_keys, subjects, subject_index,
                    subject_tokens, conversations, turns, pseudonym_maps, erasures,
                    documents, document_subjects, chunks, collections TO %I', $1::text),
            format('GRANT SELECT, INSERT ON api_keys TO %I', $1::text),
            format('GRANT UPDATE (revoked) ON api_keys TO %I', $1::text),
            CASE WHEN to_regclass('chunk_vectors') IS NOT NULL THEN
                format('GRANT SELECT, INSERT, UPDATE, DELETE ON chunk_vectors, chunk_label_sets TO %I',
                       $1::text)
            END
        ])",
    )
    .bind(&role.name)
    .fetch_all(&mut *tx)
    .await?;
    let grants: Vec<String> = grants.into_iter().flatten().collect();
    for g in grants {
        sqlx::raw_sql(&g).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub(crate) struct Postgres {
    pool: PgPool,
    /// `chunk_vectors` exists and the role may use it (found at connect).
    vectors: bool,
}

impl Postgres {
    pub(crate) async fn connect(url: &SecretString) -> Result<Postgres, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options(url)?)
            .await?;
        // Fail closed: a role that bypasses RLS would see every tenant.
        let (user, unsafe_role): (String, bool) = sqlx::query_as(
            "SELECT current_user::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&pool)
        .await?;
        if unsafe_role {
            pool.close().await;
            return Err(Error::UnsafeRole(user));
        }
        let vectors: bool = sqlx::query_scalar(
            "SELECT coalesce(has_table_privilege(c, 'SELECT') AND has_table_privilege(c, 'INSERT')
                             AND has_table_privilege(c, 'UPDATE') AND has_table_privilege(c, 'DELETE'),
                             false)
             FROM (SELECT to_regclass('chunk_vectors') AS c) x",
        )
        .fetch_one(&pool)
        .await?;
        Ok(Postgres { pool, vectors })
    }

    pub(crate) fn has_vectors(&self) -> bool {
        self.vectors
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// A transaction with the tenant set for its duration only.
    async fn begin(&self, tenant: &str) -> Result<Transaction<'static, Pg>, Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config('rempart.tenant', $1, true)")
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
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
        let mut tx = self.begin(tenant).await?;
        sqlx::query(
            "INSERT INTO api_keys (id, tenant, hash, label, created_at, groups)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id())
        .bind(tenant)
        .bind(key.hash().to_hex())
        .bind(label)
        .bind(now)
        .bind(groups)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Before authentication the tenant is unknown: the transaction sets
    /// `rempart.key_id`, which lets the policy show that one row.
    async fn begin_key(&self, id: &str) -> Result<Transaction<'static, Pg>, Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config('rempart.key_id', $1, true)")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    pub(crate) async fn key_by_id(&self, id: &str) -> Result<Option<(KeyRecord, KeyHash)>, Error> {
        let mut tx = self.begin_key(id).await?;
        let row = sqlx::query(
            "SELECT id, tenant, hash, label, created_at, revoked, groups FROM api_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        let hash: String = row.try_get("hash")?;
        let hash = KeyHash::from_hex(&hash).ok_or(Error::Corrupt {
            table: "api_keys",
            what: "hash".into(),
        })?;
        Ok(Some((key_record(&row)?, hash)))
    }

    pub(crate) async fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<KeyRecord>, Error> {
        let Some(tenant) = tenant else {
            return Err(Error::Unsupported(
                "listing the keys of every tenant is not possible on PostgreSQL (Row-Level Security): name a tenant",
            ));
        };
        let mut tx = self.begin(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, tenant, label, created_at, revoked, groups FROM api_keys
             WHERE tenant = $1 ORDER BY created_at, id",
        )
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(key_record).collect()
    }

    pub(crate) async fn revoke_key(&self, id: &str) -> Result<bool, Error> {
        let mut tx = self.begin_key(id).await?;
        let r = sqlx::query("UPDATE api_keys SET revoked = true WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
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
        let mut tx = self.begin(tenant).await?;
        let r = sqlx::query(
            "INSERT INTO tenant_keys (tenant, name, wrapped, created) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant, name) DO NOTHING",
        )
        .bind(tenant)
        .bind(name)
        .bind(wrapped)
        .bind(created)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    pub(crate) async fn get_tenant_key(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<Option<TenantKey>, Error> {
        let mut tx = self.begin(tenant).await?;
        let row = sqlx::query(
            "SELECT name, wrapped, created FROM tenant_keys WHERE tenant = $1 AND name = $2",
        )
        .bind(tenant)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(|r| {
            Ok(TenantKey {
                name: r.try_get("name")?,
                wrapped: r.try_get("wrapped")?,
                created: r.try_get("created")?,
            })
        })
        .transpose()
    }

    // === Subjects ===

    pub(crate) async fn insert_subject(&self, tenant: &str, s: &NewSubject) -> Result<(), Error> {
        let mut tx = self.begin(tenant).await?;
        sqlx::query(
            "INSERT INTO subjects (tenant, id, wrapped_key, profile, created)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant)
        .bind(s.id)
        .bind(&s.wrapped_key)
        .bind(&s.profile)
        .bind(s.created)
        .execute(&mut *tx)
        .await?;
        if !s.tokens.is_empty() {
            sqlx::query(
                "INSERT INTO subject_tokens (tenant, subject_id, token)
                 SELECT $1, $2, unnest($3::bytea[])",
            )
            .bind(tenant)
            .bind(s.id)
            .bind(&s.tokens)
            .execute(&mut *tx)
            .await?;
        }
        if !s.index.is_empty() {
            let (names, values): (Vec<&str>, Vec<&[u8]>) = s
                .index
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_slice()))
                .unzip();
            sqlx::query(
                "INSERT INTO subject_index (tenant, subject_id, name, value)
                 SELECT $1, $2, n, v FROM unnest($3::text[], $4::bytea[]) AS x(n, v)",
            )
            .bind(tenant)
            .bind(s.id)
            .bind(names)
            .bind(values)
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
        let mut tx = self.begin(tenant).await?;
        let row = sqlx::query(
            "SELECT id, wrapped_key, profile, created, erased_at FROM subjects
             WHERE tenant = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.as_ref().map(subject).transpose()
    }

    pub(crate) async fn list_subjects(&self, tenant: &str) -> Result<Vec<Subject>, Error> {
        let mut tx = self.begin(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, wrapped_key, profile, created, erased_at FROM subjects
             WHERE tenant = $1 ORDER BY created, id",
        )
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(subject).collect()
    }

    pub(crate) async fn find_by_index(
        &self,
        tenant: &str,
        name: &str,
        value: &[u8],
    ) -> Result<Vec<Uuid>, Error> {
        let mut tx = self.begin(tenant).await?;
        let ids = sqlx::query_scalar(
            "SELECT DISTINCT subject_id FROM subject_index
             WHERE tenant = $1 AND name = $2 AND value = $3 ORDER BY subject_id",
        )
        .bind(tenant)
        .bind(name)
        .bind(value)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    pub(crate) async fn find_by_tokens(
        &self,
        tenant: &str,
        tokens: &[Vec<u8>],
    ) -> Result<Vec<Uuid>, Error> {
        let mut tx = self.begin(tenant).await?;
        let ids = sqlx::query_scalar(
            "SELECT subject_id FROM subject_tokens
             WHERE tenant = $1 AND token = ANY($2)
             GROUP BY subject_id HAVING COUNT(DISTINCT token) = cardinality($2)
             ORDER BY subject_id",
        )
        .bind(tenant)
        .bind(tokens)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    pub(crate) async fn find_subjects_by_index(
        &self,
        tenant: &str,
        name: &str,
        value: &[u8],
    ) -> Result<Vec<Subject>, Error> {
        let mut tx = self.begin(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, wrapped_key, profile, created, erased_at FROM subjects
             WHERE tenant = $1 AND id IN (SELECT subject_id FROM subject_index
                                          WHERE tenant = $1 AND name = $2 AND value = $3)
             ORDER BY id",
        )
        .bind(tenant)
        .bind(name)
        .bind(value)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
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
        let names: Vec<&str> = pairs.iter().map(|p| p.0).collect();
        let values: Vec<&[u8]> = pairs.iter().map(|p| p.1).collect();
        let mut tx = self.begin(tenant).await?;
        let rows = sqlx::query(
            "SELECT i.name AS index_name, i.value AS index_value, s.id, s.wrapped_key,
                    s.profile, s.created, s.erased_at
             FROM unnest($2::text[], $3::bytea[]) AS q(name, value)
             JOIN subject_index i ON i.tenant = $1 AND i.name = q.name AND i.value = q.value
             JOIN subjects s ON s.tenant = i.tenant AND s.id = i.subject_id
             ORDER BY s.id",
        )
        .bind(tenant)
        .bind(&names)
        .bind(&values)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
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
        let mut tx = self.begin(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, wrapped_key, profile, created, erased_at FROM subjects
             WHERE tenant = $1 AND id IN (SELECT subject_id FROM subject_tokens
                  WHERE tenant = $1 AND token = ANY($2)
                  GROUP BY subject_id HAVING COUNT(DISTINCT token) = cardinality($2))
             ORDER BY id",
        )
        .bind(tenant)
        .bind(tokens)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(subject).collect()
    }

    // === Conversations, turns, pseudonym maps ===

    pub(crate) async fn put_conversation(
        &self,
        tenant: &str,
        c: &Conversation,
    ) -> Result<(), Error> {
        let mut tx = self.begin(tenant).await?;
        sqlx::query(
            "INSERT INTO conversations (tenant, id, subject_id, created, expires_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant, id) DO UPDATE
             SET subject_id = excluded.subject_id, expires_at = excluded.expires_at",
        )
        .bind(tenant)
        .bind(c.id)
        .bind(c.subject_id)
        .bind(c.created)
        .bind(c.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn get_conversation(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> Result<Option<Conversation>, Error> {
        let mut tx = self.begin(tenant).await?;
        let row = sqlx::query(
            "SELECT id, subject_id, created, expires_at FROM conversations
             WHERE tenant = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.as_ref().map(conversation).transpose()
    }

    pub(crate) async fn list_conversations(
        &self,
        tenant: &str,
        subject: Uuid,
    ) -> Result<Vec<Conversation>, Error> {
        let mut tx = self.begin(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, subject_id, created, expires_at FROM conversations
             WHERE tenant = $1 AND subject_id = $2 ORDER BY created, id",
        )
        .bind(tenant)
        .bind(subject)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(conversation).collect()
    }

    pub(crate) async fn append_turn(&self, tenant: &str, t: &Turn) -> Result<(), Error> {
        let mut tx = self.begin(tenant).await?;
        sqlx::query(
            "INSERT INTO turns (tenant, conversation_id, seq, role, content, created)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant)
        .bind(t.conversation_id)
        .bind(t.seq)
        .bind(&t.role)
        .bind(&t.content)
        .bind(t.created)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn list_turns(
        &self,
        tenant: &str,
        conversation: Uuid,
    ) -> Result<Vec<Turn>, Error> {
        let mut tx = self.begin(tenant).await?;
        let rows = sqlx::query(
            "SELECT conversation_id, seq, role, content, created FROM turns
             WHERE tenant = $1 AND conversation_id = $2 ORDER BY seq",
        )
        .bind(tenant)
        .bind(conversation)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(Turn {
                    conversation_id: r.try_get("conversation_id")?,
                    seq: r.try_get("seq")?,
                    role: r.try_get("role")?,
                    content: r.try_get("content")?,
                    created: r.try_get("created")?,
                })
            })
            .collect()
    }

    pub(crate) async fn put_pseudonym_map(
        &self,
        tenant: &str,
        m: &PseudonymMap,
    ) -> Result<(), Error> {
        let mut tx = self.begin(tenant).await?;
        sqlx::query(
            "INSERT INTO pseudonym_maps (tenant, conversation_id, subject_id, mapping, updated)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant, conversation_id) DO UPDATE
             SET subject_id = excluded.subject_id, mapping = excluded.mapping,
                 updated = excluded.updated",
        )
        .bind(tenant)
        .bind(m.conversation_id)
        .bind(m.subject_id)
        .bind(&m.mapping)
        .bind(m.updated)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn get_pseudonym_map(
        &self,
        tenant: &str,
        conversation: Uuid,
    ) -> Result<Option<PseudonymMap>, Error> {
        let mut tx = self.begin(tenant).await?;
        let row = sqlx::query(
            "SELECT conversation_id, subject_id, mapping, updated FROM pseudonym_maps
             WHERE tenant = $1 AND conversation_id = $2",
        )
        .bind(tenant)
        .bind(conversation)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.as_ref().map(pseudonym_map).transpose()
    }

    pub(crate) async fn list_pseudonym_maps(
        &self,
        tenant: &str,
        subject: Uuid,
    ) -> Result<Vec<PseudonymMap>, Error> {
        let mut tx = self.begin(tenant).await?;
        let rows = sqlx::query(
            "SELECT conversation_id, subject_id, mapping, updated FROM pseudonym_maps
             WHERE tenant = $1 AND (subject_id = $2 OR conversation_id IN
                 (SELECT id FROM conversations WHERE tenant = $1 AND subject_id = $2))
             ORDER BY updated, conversation_id",
        )
        .bind(tenant)
        .bind(subject)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(pseudonym_map).collect()
    }

    pub(crate) async fn purge_expired(
        &self,
        tenant: &str,
        now: OffsetDateTime,
    ) -> Result<Purged, Error> {
        let mut tx = self.begin(tenant).await?;
        let expired = "SELECT id FROM conversations WHERE tenant = $1 AND expires_at <= $2";
        let turns = sqlx::query(&format!(
            "DELETE FROM turns WHERE tenant = $1 AND conversation_id IN ({expired})"
        ))
        .bind(tenant)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let maps = sqlx::query(&format!(
            "DELETE FROM pseudonym_maps WHERE tenant = $1 AND conversation_id IN ({expired})"
        ))
        .bind(tenant)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let convs = sqlx::query("DELETE FROM conversations WHERE tenant = $1 AND expires_at <= $2")
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
        let mut tx = self.begin(tenant).await?;
        // Lock the row: a concurrent insert of index rows cannot slip in.
        let row = sqlx::query(
            "SELECT wrapped_key IS NOT NULL AS k, profile IS NOT NULL AS p
             FROM subjects WHERE tenant = $1 AND id = $2 FOR UPDATE",
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
            "UPDATE subjects SET wrapped_key = NULL, profile = NULL, erased_at = $3
             WHERE tenant = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(subject)
        .bind(erased_at)
        .execute(&mut *tx)
        .await?;
        let del = |sql: &'static str| sqlx::query(sql).bind(tenant).bind(subject);
        c.tokens = del("DELETE FROM subject_tokens WHERE tenant = $1 AND subject_id = $2")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        c.index_rows = del("DELETE FROM subject_index WHERE tenant = $1 AND subject_id = $2")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        c.turns = del("DELETE FROM turns WHERE tenant = $1 AND conversation_id IN
             (SELECT id FROM conversations WHERE tenant = $1 AND subject_id = $2)")
        .execute(&mut *tx)
        .await?
        .rows_affected();
        c.pseudonym_maps = del(
            "DELETE FROM pseudonym_maps WHERE tenant = $1 AND (subject_id = $2 OR conversation_id IN
             (SELECT id FROM conversations WHERE tenant = $1 AND subject_id = $2))",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        c.conversations = del("DELETE FROM conversations WHERE tenant = $1 AND subject_id = $2")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Documents about the subject: their collections' versions move,
        // then chunks, then the rows (their data keys with them; the links
        // cascade).
        del(
            "UPDATE collections SET version = version + 1 WHERE tenant = $1 AND name IN
             (SELECT collection FROM documents WHERE tenant = $1 AND id IN
               (SELECT document_id FROM document_subjects WHERE tenant = $1 AND subject_id = $2))",
        )
        .execute(&mut *tx)
        .await?;
        if self.vectors {
            c.vectors = del(
                "DELETE FROM chunk_vectors WHERE tenant = $1 AND document_id IN
                 (SELECT document_id FROM document_subjects WHERE tenant = $1 AND subject_id = $2)",
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        c.chunks = del("DELETE FROM chunks WHERE tenant = $1 AND document_id IN
             (SELECT document_id FROM document_subjects WHERE tenant = $1 AND subject_id = $2)")
        .execute(&mut *tx)
        .await?
        .rows_affected();
        c.documents = del("DELETE FROM documents WHERE tenant = $1 AND id IN
             (SELECT document_id FROM document_subjects WHERE tenant = $1 AND subject_id = $2)")
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "INSERT INTO erasures (tenant, subject_id, erased_at, receipt)
             VALUES ($1, $2, $3, $4::jsonb)",
        )
        .bind(tenant)
        .bind(subject)
        .bind(erased_at)
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
        let mut tx = self.begin(tenant).await?;
        let r = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM subjects WHERE tenant = $1 AND id = $2 AND wrapped_key IS NOT NULL) AS k,
               (SELECT COUNT(*) FROM subjects WHERE tenant = $1 AND id = $2 AND profile IS NOT NULL) AS p,
               (SELECT COUNT(*) FROM subject_index WHERE tenant = $1 AND subject_id = $2) AS i,
               (SELECT COUNT(*) FROM subject_tokens WHERE tenant = $1 AND subject_id = $2) AS t,
               (SELECT COUNT(*) FROM conversations WHERE tenant = $1 AND subject_id = $2) AS c,
               (SELECT COUNT(*) FROM turns WHERE tenant = $1 AND conversation_id IN
                  (SELECT id FROM conversations WHERE tenant = $1 AND subject_id = $2)) AS tu,
               (SELECT COUNT(*) FROM pseudonym_maps WHERE tenant = $1 AND (subject_id = $2 OR conversation_id IN
                  (SELECT id FROM conversations WHERE tenant = $1 AND subject_id = $2))) AS m,
               (SELECT COUNT(*) FROM document_subjects WHERE tenant = $1 AND subject_id = $2) AS d,
               (SELECT COUNT(*) FROM chunks WHERE tenant = $1 AND document_id IN
                  (SELECT document_id FROM document_subjects WHERE tenant = $1 AND subject_id = $2)) AS ch",
        )
        .bind(tenant)
        .bind(subject)
        .fetch_one(&mut *tx)
        .await?;
        let vectors: i64 = if self.vectors {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM chunk_vectors WHERE tenant = $1 AND document_id IN
                   (SELECT document_id FROM document_subjects WHERE tenant = $1 AND subject_id = $2)",
            )
            .bind(tenant)
            .bind(subject)
            .fetch_one(&mut *tx)
            .await?
        } else {
            0
        };
        tx.commit().await?;
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
            vectors: vectors.max(0) as u64,
        })
    }

    // === Collections ===

    pub(crate) async fn insert_document(
        &self,
        tenant: &str,
        d: &NewDocument,
        vectors: &[Vec<f32>],
    ) -> Result<Inserted, Error> {
        let mut tx = self.begin(tenant).await?;
        let r = sqlx::query(
            "INSERT INTO documents (tenant, collection, id, content_key, name, format, pages,
                                    labels, wrapped_key, created)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)
             ON CONFLICT (tenant, collection, content_key) DO NOTHING",
        )
        .bind(tenant)
        .bind(&d.collection)
        .bind(d.id)
        .bind(&d.content_key)
        .bind(&d.name)
        .bind(&d.format)
        .bind(d.pages as i32)
        .bind(&d.labels)
        .bind(&d.wrapped_key)
        .bind(d.created)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            let (id, chunks): (Uuid, i64) = sqlx::query_as(
                "SELECT id, (SELECT COUNT(*) FROM chunks c WHERE c.tenant = d.tenant
                                                         AND c.document_id = d.id)
                 FROM documents d WHERE tenant = $1 AND collection = $2 AND content_key = $3",
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
        if !d.subjects.is_empty() {
            // Only live (not erased) subjects of the tenant can be linked;
            // the foreign key locks each subject row against a concurrent
            // erasure.
            let linked = sqlx::query(
                "INSERT INTO document_subjects (tenant, document_id, subject_id)
                 SELECT $1, $2, id FROM subjects
                 WHERE tenant = $1 AND id = ANY($3) AND wrapped_key IS NOT NULL",
            )
            .bind(tenant)
            .bind(d.id)
            .bind(&d.subjects)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if linked != d.subjects.len() as u64 {
                tx.rollback().await?;
                return Err(Error::NotFound("subject"));
            }
        }
        if !d.chunks.is_empty() {
            let col = |f: fn(&ChunkRow) -> i64| d.chunks.iter().map(f).collect::<Vec<i64>>();
            let texts: Vec<&[u8]> = d.chunks.iter().map(|c| c.text.as_slice()).collect();
            let headings: Vec<&[u8]> = d.chunks.iter().map(|c| c.heading.as_slice()).collect();
            let embeddings: Vec<Option<&[u8]>> =
                d.chunks.iter().map(|c| c.embedding.as_deref()).collect();
            sqlx::query(
                "INSERT INTO chunks (tenant, document_id, seq, text, heading, page_start,
                                     page_end, start_offset, end_offset, embedding)
                 SELECT $1, $2, s, t, h, ps, pe, so, eo, e
                 FROM unnest($3::int8[], $4::bytea[], $5::bytea[], $6::int8[], $7::int8[],
                             $8::int8[], $9::int8[], $10::bytea[])
                      AS x(s, t, h, ps, pe, so, eo, e)",
            )
            .bind(tenant)
            .bind(d.id)
            .bind(col(|c| c.seq))
            .bind(texts)
            .bind(headings)
            .bind(col(|c| c.page_start))
            .bind(col(|c| c.page_end))
            .bind(col(|c| c.start))
            .bind(col(|c| c.end))
            .bind(embeddings)
            .execute(&mut *tx)
            .await?;
        }
        // The collection's row before the label sets' (the vectors'
        // triggers): the order an erasure takes them in, so the two cannot
        // deadlock.
        let version = bump(&mut tx, tenant, &d.collection).await?;
        if !vectors.is_empty() {
            let n = insert_vectors(&mut tx, tenant, &d.collection, d.id, vectors).await?;
            if n != vectors.len() as u64 {
                tx.rollback().await?;
                return Err(Error::Invalid {
                    what: "vectors",
                    why: "give one vector per chunk of the document",
                });
            }
        }
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
        let mut tx = self.begin(tenant).await?;
        let there: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM documents WHERE tenant = $1 AND collection = $2 AND id = $3
             FOR SHARE",
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
        // Share-locked: an erasure (which updates the subject row) waits
        // for this link, then finds it and deletes the document.
        let live: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM subjects
             WHERE tenant = $1 AND id = ANY($2) AND wrapped_key IS NOT NULL
             FOR SHARE",
        )
        .bind(tenant)
        .bind(subjects)
        .fetch_all(&mut *tx)
        .await?;
        if live.len() != subjects.len() {
            tx.rollback().await?;
            return Err(Error::NotFound("subject"));
        }
        let new = sqlx::query(
            "INSERT INTO document_subjects (tenant, document_id, subject_id)
             SELECT $1, $2, id FROM unnest($3::uuid[]) AS s(id)
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(document)
        .bind(subjects)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(new)
    }

    pub(crate) async fn list_documents(
        &self,
        tenant: &str,
        collection: &str,
        id: Option<Uuid>,
    ) -> Result<Vec<DocumentRow>, Error> {
        let mut tx = self.begin(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, collection, name, format, pages::int8 AS pages, labels::text AS labels,
                    wrapped_key, created,
                    (SELECT COUNT(*) FROM chunks c WHERE c.tenant = d.tenant
                                                     AND c.document_id = d.id) AS chunks
             FROM documents d
             WHERE tenant = $1 AND collection = $2 AND ($3::uuid IS NULL OR id = $3)
             ORDER BY created, id",
        )
        .bind(tenant)
        .bind(collection)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
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
                    created: r.try_get("created")?,
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
        let mut tx = self.begin(tenant).await?;
        let rows = sqlx::query(
            "SELECT c.document_id, c.seq::int8 AS seq, c.text, c.heading,
                    c.page_start::int8 AS page_start, c.page_end::int8 AS page_end,
                    c.start_offset, c.end_offset, c.embedding
             FROM chunks c JOIN documents d ON d.tenant = c.tenant AND d.id = c.document_id
             WHERE c.tenant = $1 AND d.collection = $2
             ORDER BY d.created, c.document_id, c.seq",
        )
        .bind(tenant)
        .bind(collection)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("document_id")?,
                    ChunkRow {
                        seq: r.try_get("seq")?,
                        text: r.try_get("text")?,
                        heading: r.try_get("heading")?,
                        page_start: r.try_get("page_start")?,
                        page_end: r.try_get("page_end")?,
                        start: r.try_get("start_offset")?,
                        end: r.try_get("end_offset")?,
                        embedding: r.try_get("embedding")?,
                    },
                ))
            })
            .collect()
    }

    pub(crate) async fn set_chunk_embeddings(
        &self,
        tenant: &str,
        document: Uuid,
        embeddings: &[(i64, Vec<u8>)],
    ) -> Result<u64, Error> {
        let mut tx = self.begin(tenant).await?;
        let seqs: Vec<i64> = embeddings.iter().map(|(s, _)| *s).collect();
        let values: Vec<&[u8]> = embeddings.iter().map(|(_, e)| e.as_slice()).collect();
        let n = sqlx::query(
            "UPDATE chunks c SET embedding = x.e
             FROM unnest($3::int8[], $4::bytea[]) AS x(s, e)
             WHERE c.tenant = $1 AND c.document_id = $2 AND c.seq = x.s",
        )
        .bind(tenant)
        .bind(document)
        .bind(seqs)
        .bind(values)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    pub(crate) async fn delete_document(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
    ) -> Result<Option<Deleted>, Error> {
        let mut tx = self.begin(tenant).await?;
        let shredded = sqlx::query(
            "UPDATE documents SET wrapped_key = NULL
             WHERE tenant = $1 AND collection = $2 AND id = $3",
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
        // The collection's row first, then the label sets (the vectors'
        // triggers), as an erasure takes them: no deadlock between the two.
        let version = bump(&mut tx, tenant, collection).await?;
        // Explicitly, for the count; the foreign key cascades from chunks too.
        let vectors = if self.vectors {
            sqlx::query("DELETE FROM chunk_vectors WHERE tenant = $1 AND document_id = $2")
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        } else {
            0
        };
        let chunks = sqlx::query("DELETE FROM chunks WHERE tenant = $1 AND document_id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM documents WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Deleted {
            chunks,
            vectors,
            version,
        }))
    }

    pub(crate) async fn collection_version(
        &self,
        tenant: &str,
        collection: &str,
    ) -> Result<i64, Error> {
        let mut tx = self.begin(tenant).await?;
        let v: Option<i64> =
            sqlx::query_scalar("SELECT version FROM collections WHERE tenant = $1 AND name = $2")
                .bind(tenant)
                .bind(collection)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(v.unwrap_or(0))
    }

    // === Vector index ===

    pub(crate) async fn put_vectors(
        &self,
        tenant: &str,
        collection: &str,
        document: Uuid,
        vectors: &[Vec<f32>],
    ) -> Result<u64, Error> {
        let mut tx = self.begin(tenant).await?;
        // Locks the document against a concurrent deletion.
        let chunks: Option<i64> = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM chunks c WHERE c.tenant = d.tenant AND c.document_id = d.id)
             FROM documents d WHERE tenant = $1 AND collection = $2 AND id = $3 FOR SHARE OF d",
        )
        .bind(tenant)
        .bind(collection)
        .bind(document)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(chunks) = chunks else {
            tx.rollback().await?;
            return Err(Error::NotFound("document"));
        };
        if chunks != vectors.len() as i64 {
            tx.rollback().await?;
            return Err(Error::Invalid {
                what: "vectors",
                why: "give one vector per chunk of the document",
            });
        }
        let n = insert_vectors(&mut tx, tenant, collection, document, vectors).await?;
        tx.commit().await?;
        Ok(n)
    }

    pub(crate) async fn count_vectors(&self, tenant: &str, document: Uuid) -> Result<u64, Error> {
        let mut tx = self.begin(tenant).await?;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM chunk_vectors WHERE tenant = $1 AND document_id = $2",
        )
        .bind(tenant)
        .bind(document)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n.max(0) as u64)
    }

    pub(crate) async fn search_vectors(
        &self,
        tenant: &str,
        q: &VectorQuery<'_>,
    ) -> Result<VectorSearch, Error> {
        let t = &q.tuning;
        let k = q.k as i64;
        let ef = (t.ef_search as usize).clamp(q.k, 1000);
        let mut tx = self.begin(tenant).await?;
        // The parameters the statements below share.
        let collections: Vec<String> = q.collections.iter().map(|c| (*c).to_owned()).collect();
        let groups: Vec<String> = q.groups.to_vec();
        let purpose: Option<String> = q.purpose.map(str::to_owned);
        let vector: Vec<f32> = q.vector.to_vec();

        // How many chunks the principal may see, and under which label
        // sets: a few rows, whatever the collection's size.
        // SET LOCAL through set_config(…, true): `raw_sql` here makes the
        // future's `Send` bound unprovable too.
        sqlx::query(
            "SELECT set_config('hnsw.ef_search', $1, true),
                    set_config('hnsw.iterative_scan', $2, true),
                    set_config('hnsw.max_scan_tuples', $3, true)",
        )
        .bind(ef.to_string())
        .bind(t.iterative.setting())
        .bind(t.max_scan_tuples.max(1).to_string())
        .execute(&mut *tx)
        .await?;
        let label_sql = format!(
            "SELECT coalesce(sum(chunks), 0)::int8, coalesce(sum(chunks) FILTER (WHERE ok), 0)::int8,
                    coalesce(array_agg(label_key) FILTER (WHERE ok), '{{}}')
             FROM (SELECT label_key, chunks, {} AS ok FROM chunk_label_sets
                   WHERE tenant = $1 AND collection = ANY($2)) s",
            eligible_sql(3, 4)
        );
        let (total, eligible, keys): (i64, i64, Vec<i64>) = sqlx::query_as(&label_sql)
            .bind(tenant)
            .bind(&collections)
            .bind(&groups)
            .bind(&purpose)
            .fetch_one(&mut *tx)
            .await?;
        let (total, eligible) = (total.max(0) as u64, eligible.max(0) as u64);
        let elig = eligible_sql(4, 5);
        let distance = format!("embedding <=> $2::real[]::vector({VECTOR_DIM})");
        // The same six parameters for every statement.
        macro_rules! bind {
            ($query:expr) => {
                $query
                    .bind(tenant)
                    .bind(&vector)
                    .bind(&collections)
                    .bind(&groups)
                    .bind(&purpose)
                    .bind(k)
            };
        }
        // Exact: the eligible label sets' rows through the btree on
        // (tenant, collection, label_key), the predicate re-checked (the
        // key is a hash), distances, a top-k sort. Materialised so that the
        // ORDER BY cannot reach the HNSW index.
        let exact_sql = format!(
            "WITH e AS MATERIALIZED (
               SELECT document_id, seq, collection, ({distance})::float8 AS d FROM chunk_vectors
               WHERE tenant = $1 AND collection = ANY($3) AND label_key = ANY($7) AND {elig})
             SELECT * FROM e ORDER BY d LIMIT $6"
        );
        // A filtered walk visits about ef · 2m / selectivity nodes; scanning
        // the eligible rows costs `eligible` distances: take the cheaper, as
        // the in-process HNSW (and Lucene) do.
        let walk = ef as f64 * HNSW_LINKS * total as f64 / (eligible.max(1) as f64);
        let exact_first = t.exact_when_cheaper && (eligible as f64) <= walk;
        let mut exact = false;
        let rows = if eligible == 0 {
            Vec::new()
        } else if exact_first {
            exact = true;
            bind!(sqlx::query(&exact_sql))
                .bind(&keys)
                .fetch_all(&mut *tx)
                .await?
        } else {
            let by_index = format!(
                "SELECT document_id, seq, collection, ({distance})::float8 AS d FROM chunk_vectors
                 WHERE tenant = $1 AND collection = ANY($3) AND {elig}
                 ORDER BY {distance} LIMIT $6"
            );
            let rows = bind!(sqlx::query(&by_index)).fetch_all(&mut *tx).await?;
            if (rows.len() as u64) < eligible.min(q.k as u64) && t.exact_fallback {
                // The scan gave up (hnsw.max_scan_tuples) before k.
                exact = true;
                bind!(sqlx::query(&exact_sql))
                    .bind(&keys)
                    .fetch_all(&mut *tx)
                    .await?
            } else {
                rows
            }
        };
        let denied = if t.count_denied {
            // An audit figure, not an answer: a narrow beam (pgvector's
            // default 40) keeps it at a fraction of the search's cost.
            sqlx::query(
                "SELECT set_config('hnsw.ef_search', $1, true),
                        set_config('hnsw.iterative_scan', 'relaxed_order', true)",
            )
            .bind(q.k.clamp(40, 1000).to_string())
            .execute(&mut *tx)
            .await?;
            let sql = format!(
                "SELECT COUNT(*) FILTER (WHERE NOT ok) FROM (
                   SELECT {elig} AS ok FROM chunk_vectors
                   WHERE tenant = $1 AND collection = ANY($3)
                   ORDER BY {distance} LIMIT $6) n"
            );
            let n: i64 = bind!(sqlx::query_scalar(&sql)).fetch_one(&mut *tx).await?;
            Some(n.max(0) as u64)
        } else {
            None
        };
        tx.commit().await?;
        let mut hits = rows
            .iter()
            .map(|r| {
                let d: f64 = r.try_get("d")?;
                Ok(VectorHit {
                    document_id: r.try_get("document_id")?,
                    seq: u32::try_from(r.try_get::<i32, _>("seq")?).unwrap_or(0),
                    collection: r.try_get("collection")?,
                    score: (1.0 - d) as f32,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        // `relaxed_order` may hand rows slightly out of order.
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.document_id.cmp(&b.document_id))
                .then(a.seq.cmp(&b.seq))
        });
        hits.truncate(q.k);
        Ok(VectorSearch {
            hits,
            eligible,
            denied,
            exact,
        })
    }

    pub(crate) async fn list_erasures(
        &self,
        tenant: &str,
        subject: Uuid,
    ) -> Result<Vec<Erasure>, Error> {
        let mut tx = self.begin(tenant).await?;
        let rows = sqlx::query(
            "SELECT subject_id, erased_at, receipt::text AS receipt FROM erasures
             WHERE tenant = $1 AND subject_id = $2 ORDER BY erased_at",
        )
        .bind(tenant)
        .bind(subject)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(Erasure {
                    subject_id: r.try_get("subject_id")?,
                    erased_at: r.try_get("erased_at")?,
                    receipt: r.try_get("receipt")?,
                })
            })
            .collect()
    }
}

/// Bump a collection's version inside `tx`; the new version.
async fn bump(
    tx: &mut Transaction<'static, Pg>,
    tenant: &str,
    collection: &str,
) -> Result<i64, Error> {
    Ok(sqlx::query_scalar(
        "INSERT INTO collections (tenant, name, version) VALUES ($1, $2, 1)
         ON CONFLICT (tenant, name) DO UPDATE SET version = collections.version + 1
         RETURNING version",
    )
    .bind(tenant)
    .bind(collection)
    .fetch_one(&mut **tx)
    .await?)
}

/// The eligibility predicate of `rempart_rag::Principal::admits` over a
/// row's `groups` and `purposes`, with the principal's groups in parameter
/// `$g` and the declared purpose in `$p` (the tenant is Row-Level
/// Security's and the statements' `tenant = $1`): groups empty or shared,
/// purposes empty or naming the declared one (none declared: NULL, denied).
fn eligible_sql(g: u8, p: u8) -> String {
    format!(
        "((cardinality(groups) = 0 OR groups && ${g}::text[])
          AND (cardinality(purposes) = 0 OR coalesce(${p}::text = ANY(purposes), false)))"
    )
}

/// Upsert the vectors of a document's chunks (`vectors[i]` for chunk `i`)
/// inside `tx`, with the document's labels copied from its row; the number
/// of rows written (one per chunk of the document found).
async fn insert_vectors(
    tx: &mut Transaction<'static, Pg>,
    tenant: &str,
    collection: &str,
    document: Uuid,
    vectors: &[Vec<f32>],
) -> Result<u64, Error> {
    // One flat real[]; chunk `seq` is the slice [seq·dim + 1, (seq+1)·dim].
    let flat: Vec<f32> = vectors.iter().flatten().copied().collect();
    Ok(sqlx::query(&format!(
        "INSERT INTO chunk_vectors (tenant, collection, document_id, seq, groups, purposes,
                                    legal_hold, label_key, embedding)
         SELECT d.tenant, d.collection, d.id, c.seq, l.g, l.p,
                coalesce((d.labels->>'legal_hold')::boolean, false),
                hashtextextended(array_to_string(l.g, chr(31)) || chr(30)
                                 || array_to_string(l.p, chr(31)), 0),
                ($4::real[])[c.seq * {VECTOR_DIM} + 1 : (c.seq + 1) * {VECTOR_DIM}]::vector({VECTOR_DIM})
         FROM documents d
         CROSS JOIN LATERAL (SELECT
             ARRAY(SELECT x FROM jsonb_array_elements_text(coalesce(d.labels->'groups', '[]')) x
                   ORDER BY x COLLATE \"C\") AS g,
             ARRAY(SELECT x FROM jsonb_array_elements_text(coalesce(d.labels->'purposes', '[]')) x
                   ORDER BY x COLLATE \"C\") AS p) l
         JOIN chunks c ON c.tenant = d.tenant AND c.document_id = d.id
         WHERE d.tenant = $1 AND d.collection = $2 AND d.id = $3 AND c.seq < $5
         ON CONFLICT (tenant, document_id, seq) DO UPDATE SET
             collection = EXCLUDED.collection, groups = EXCLUDED.groups,
             purposes = EXCLUDED.purposes, legal_hold = EXCLUDED.legal_hold,
             label_key = EXCLUDED.label_key, embedding = EXCLUDED.embedding"
    ))
    .bind(tenant)
    .bind(collection)
    .bind(document)
    .bind(flat)
    .bind(vectors.len() as i32)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

fn key_record(row: &PgRow) -> Result<KeyRecord, Error> {
    Ok(KeyRecord {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        revoked: row.try_get("revoked")?,
        groups: crate::parse_groups(&row.try_get::<String, _>("groups")?)?,
    })
}

fn subject(r: &PgRow) -> Result<Subject, Error> {
    Ok(Subject {
        id: r.try_get("id")?,
        wrapped_key: r.try_get("wrapped_key")?,
        profile: r.try_get("profile")?,
        created: r.try_get("created")?,
        erased_at: r.try_get("erased_at")?,
    })
}

fn conversation(r: &PgRow) -> Result<Conversation, Error> {
    Ok(Conversation {
        id: r.try_get("id")?,
        subject_id: r.try_get("subject_id")?,
        created: r.try_get("created")?,
        expires_at: r.try_get("expires_at")?,
    })
}

fn pseudonym_map(r: &PgRow) -> Result<PseudonymMap, Error> {
    Ok(PseudonymMap {
        conversation_id: r.try_get("conversation_id")?,
        subject_id: r.try_get("subject_id")?,
        mapping: r.try_get("mapping")?,
        updated: r.try_get("updated")?,
    })
}
