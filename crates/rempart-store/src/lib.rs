//! Persistence for Rempart: API keys, tenant keys, data subjects (with blind
//! indexes and name tokens), conversations, turns, pseudonym maps and erasure
//! tombstones — on SQLite (embedded default, one file in the data directory)
//! or PostgreSQL (production, Row-Level Security per tenant).
//!
//! What it does **not** do: encrypt, decrypt or hash personal data. It stores
//! opaque bytes — ciphertexts, KMS-wrapped keys (as text), blind-index values
//! — and `rempart-crypto` produces them. It never sees plaintext.
//!
//! # Brief overview
//!
//! [`Store`] is the one type callers see. [`Store::open`] opens
//! `<data_dir>/rempart.db`; [`Store::connect`] takes a URL (`sqlite:PATH` or
//! `postgres://…`) as a [`SecretString`] because it may hold a password.
//! Every subject/conversation operation is scoped by a tenant.
//!
//! On PostgreSQL the store runs as a least-privilege application role (no
//! superuser, no `BYPASSRLS`, not the owner, DML grants only) and sets the
//! tenant per transaction (`set_config('rempart.tenant', $1, true)`), so the
//! database itself filters every row by tenant. [`postgres::migrate`] and
//! [`postgres::bootstrap`] (run with an admin URL) create the schema and that
//! role; [`Store::connect`] refuses a superuser or `BYPASSRLS` role.
//!
//! On PostgreSQL with pgvector the store also holds the production dense
//! index (`chunk_vectors`, migration 0005): [`Store::has_vector_index`],
//! [`Store::insert_document_with_vectors`], [`Store::put_vectors`] and
//! [`Store::search_vectors`], which evaluates the retrieval eligibility
//! (tenant by RLS, groups, purposes) inside the search — see the README's
//! "Vector index". On SQLite the caller keeps its in-process index.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rempart_store::Error> {
//! use rempart_store::{NewSubject, Store};
//! let dir = std::path::Path::new("./rempart-data");
//! let store = Store::open(dir).await?;
//! let id = uuid::Uuid::now_v7();
//! let now = time::OffsetDateTime::now_utc();
//! store
//!     .insert_subject("acme", &NewSubject {
//!         id,
//!         wrapped_key: "vault:v1:…".into(),
//!         profile: vec![1, 2, 3],
//!         index: vec![("email".into(), vec![0xab; 32])],
//!         tokens: vec![vec![0x01; 16], vec![0x02; 16]],
//!         created: now,
//!     })
//!     .await?;
//! assert_eq!(store.find_by_index("acme", "email", &[0xab; 32]).await?, vec![id]);
//! # Ok(()) }
//! ```

use std::path::Path;

use rempart_crypto::{ApiKey, PresentedKey};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use uuid::Uuid;

pub mod collections;
pub mod postgres;
pub mod registry;
mod sqlite;

// The public interface is:
pub use self::types::*;

mod types;

/// Errors of the store. Never contain key material, connection strings or
/// stored bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row is corrupt.
    #[error("corrupt row in {table}: {what}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// What is wrong.
        what: String,
    },
    /// The store URL is not usable (the URL itself is not repeated: it may
    /// hold a password).
    #[error("bad store URL: {0}")]
    BadUrl(&'static str),
    /// An argument was rejected.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why.
        why: &'static str,
    },
    /// No such row.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The PostgreSQL role may bypass Row-Level Security (superuser or
    /// `BYPASSRLS`): refused, tenant isolation would not hold.
    #[error(
        "the PostgreSQL role `{0}` bypasses Row-Level Security (superuser or BYPASSRLS); connect as the application role created by `postgres::bootstrap`"
    )]
    UnsafeRole(String),
    /// An operation this backend cannot do.
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// SQLite file (embedded default).
    Sqlite,
    /// PostgreSQL (production).
    Postgres,
}

/// The store: one type over SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Inner,
}

#[derive(Clone, Debug)]
enum Inner {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

macro_rules! dispatch {
    ($self:ident . $m:ident ( $($arg:expr),* )) => {
        match &$self.inner {
            Inner::Sqlite(b) => b.$m($($arg),*).await,
            Inner::Postgres(b) => b.$m($($arg),*).await,
        }
    };
}

/// Most (index name, value) pairs [`Store::find_subjects_by_indexes`]
/// sends in one query (SQLite binds two parameters per pair).
pub const MAX_PAIRS_PER_QUERY: usize = 400;

/// Longest tenant id accepted.
const MAX_TENANT: usize = 128;

fn check_tenant(tenant: &str) -> Result<(), Error> {
    if tenant.is_empty() {
        return Err(Error::Invalid {
            what: "tenant",
            why: "empty",
        });
    }
    if tenant.len() > MAX_TENANT {
        return Err(Error::Invalid {
            what: "tenant",
            why: "longer than 128 bytes",
        });
    }
    Ok(())
}

/// Distinct tokens of a query; an empty query is refused (it would match
/// every subject).
fn query_tokens(tokens: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, Error> {
    let mut t: Vec<Vec<u8>> = tokens.to_vec();
    t.sort();
    t.dedup();
    if t.is_empty() {
        return Err(Error::Invalid {
            what: "name tokens",
            why: "no token given",
        });
    }
    Ok(t)
}

/// Longest collection name accepted.
const MAX_COLLECTION: usize = 128;

/// A collection name: 1 to 128 bytes of ASCII letters, digits, `-`, `_`,
/// `.` (it appears in URLs and logs, so it may hold nothing else).
pub fn check_collection(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= MAX_COLLECTION
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            what: "collection",
            why: "use 1 to 128 ASCII letters, digits, `-`, `_` or `.`",
        })
    }
}

/// Longest group name accepted on a key.
const MAX_GROUP: usize = 128;

fn check_groups(groups: &[String]) -> Result<(), Error> {
    if groups
        .iter()
        .any(|g| g.is_empty() || g.len() > MAX_GROUP || g.chars().any(char::is_control))
    {
        return Err(Error::Invalid {
            what: "groups",
            why: "a group name is empty, longer than 128 bytes or holds control characters",
        });
    }
    Ok(())
}

fn groups_json(groups: &[String]) -> String {
    let mut g = groups.to_vec();
    g.sort();
    g.dedup();
    serde_json::to_string(&g).unwrap_or_else(|_| "[]".into())
}

fn parse_groups(json: &str) -> Result<Vec<String>, Error> {
    serde_json::from_str(json).map_err(|_| Error::Corrupt {
        table: "api_keys",
        what: "groups".into(),
    })
}

fn check_vector(v: &[f32]) -> Result<(), Error> {
    if v.len() != VECTOR_DIM {
        return Err(Error::Invalid {
            what: "vector",
            why: "not 384 dimensions (VECTOR_DIM)",
        });
    }
    if v.iter().any(|x| !x.is_finite()) || v.iter().all(|x| *x == 0.0) {
        return Err(Error::Invalid {
            what: "vector",
            why: "holds a NaN or infinite value, or is all zero",
        });
    }
    Ok(())
}

fn check_vectors(vectors: &[Vec<f32>], chunks: usize) -> Result<(), Error> {
    if vectors.len() != chunks {
        return Err(Error::Invalid {
            what: "vectors",
            why: "give one vector per chunk of the document",
        });
    }
    vectors.iter().try_for_each(|v| check_vector(v))
}

fn check_receipt(receipt: &str) -> Result<(), Error> {
    serde_json::from_str::<serde_json::Value>(receipt)
        .map(|_| ())
        .map_err(|_| Error::Invalid {
            what: "erasure receipt",
            why: "not valid JSON",
        })
}

/// Truncate to whole microseconds (the precision both backends keep).
pub(crate) fn micros(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

impl Store {
    /// Open (creating) `<data_dir>/rempart.db` and migrate it.
    pub async fn open(data_dir: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::Db(sqlx::Error::Io(e)))?;
        let s = sqlite::Sqlite::open(&data_dir.join("rempart.db")).await?;
        Ok(Store {
            inner: Inner::Sqlite(s),
        })
    }

    /// Connect from a URL: `sqlite:PATH` / `sqlite://PATH` (created and
    /// migrated), or `postgres://` / `postgresql://` (the application role;
    /// the schema must have been migrated by [`postgres::migrate`] or
    /// [`postgres::bootstrap`] with an admin URL).
    pub async fn connect(url: &SecretString) -> Result<Store, Error> {
        let u = url.expose_secret();
        if let Some(path) = u
            .strip_prefix("sqlite://")
            .or_else(|| u.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(Error::BadUrl("sqlite: URL without a path"));
            }
            let path = Path::new(path);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| Error::Db(sqlx::Error::Io(e)))?;
            }
            let s = sqlite::Sqlite::open(path).await?;
            Ok(Store {
                inner: Inner::Sqlite(s),
            })
        } else if u.starts_with("postgres://") || u.starts_with("postgresql://") {
            let p = postgres::Postgres::connect(url).await?;
            Ok(Store {
                inner: Inner::Postgres(p),
            })
        } else {
            Err(Error::BadUrl(
                "expected sqlite:PATH, postgres:// or postgresql://",
            ))
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> BackendKind {
        match &self.inner {
            Inner::Sqlite(_) => BackendKind::Sqlite,
            Inner::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Close the pool.
    pub async fn close(&self) {
        dispatch!(self.close())
    }

    // === API keys ===

    /// Create a key for a tenant; returns the key to show once.
    pub async fn create_key(&self, tenant: &str, label: Option<&str>) -> Result<ApiKey, Error> {
        self.create_key_with_groups(tenant, label, &[]).await
    }

    /// Create a key whose callers belong to `groups` (checked against the
    /// groups of a collection's documents at retrieval); returns the key to
    /// show once.
    pub async fn create_key_with_groups(
        &self,
        tenant: &str,
        label: Option<&str>,
        groups: &[String],
    ) -> Result<ApiKey, Error> {
        check_tenant(tenant)?;
        check_groups(groups)?;
        let key = ApiKey::generate();
        let now = OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let groups = groups_json(groups);
        dispatch!(self.insert_key(tenant, &key, label, &now, &groups))?;
        Ok(key)
    }

    /// Authenticate a presented key: the record if the key exists, is not
    /// revoked and its secret matches (constant-time).
    pub async fn authenticate(
        &self,
        presented: &PresentedKey<'_>,
    ) -> Result<Option<KeyRecord>, Error> {
        let Some((rec, hash)) = dispatch!(self.key_by_id(presented.id()))? else {
            return Ok(None);
        };
        Ok((presented.matches(&hash) && !rec.revoked).then_some(rec))
    }

    /// Keys of a tenant (or all, SQLite only: on PostgreSQL Row-Level
    /// Security shows one tenant at a time and `None` is refused).
    pub async fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<KeyRecord>, Error> {
        if let Some(t) = tenant {
            check_tenant(t)?;
        }
        dispatch!(self.list_keys(tenant))
    }

    /// Revoke a key; false if no such key.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, Error> {
        dispatch!(self.revoke_key(id))
    }

    // === Tenant keys ===

    /// Store a tenant key (e.g. the blind-index root key, wrapped by the
    /// KMS) unless one with that name exists. True if stored, false if the
    /// name was taken (the caller then reads the winner with
    /// [`Store::get_tenant_key`]: safe when several replicas race).
    pub async fn put_tenant_key(
        &self,
        tenant: &str,
        name: &str,
        wrapped: &str,
        created: OffsetDateTime,
    ) -> Result<bool, Error> {
        check_tenant(tenant)?;
        dispatch!(self.put_tenant_key(tenant, name, wrapped, micros(created)))
    }

    /// A tenant key by name.
    pub async fn get_tenant_key(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<Option<TenantKey>, Error> {
        check_tenant(tenant)?;
        dispatch!(self.get_tenant_key(tenant, name))
    }

    // === Subjects ===

    /// Insert a subject with its index rows and name tokens, in one
    /// transaction.
    pub async fn insert_subject(&self, tenant: &str, s: &NewSubject) -> Result<(), Error> {
        check_tenant(tenant)?;
        let mut s = s.clone();
        s.created = micros(s.created);
        s.tokens.sort();
        s.tokens.dedup();
        s.index.sort();
        s.index.dedup();
        dispatch!(self.insert_subject(tenant, &s))
    }

    /// A subject by id (erased subjects too: their key and profile are
    /// `None` and `erased_at` is set).
    pub async fn get_subject(&self, tenant: &str, id: Uuid) -> Result<Option<Subject>, Error> {
        check_tenant(tenant)?;
        dispatch!(self.get_subject(tenant, id))
    }

    /// All subjects of a tenant, oldest first.
    pub async fn list_subjects(&self, tenant: &str) -> Result<Vec<Subject>, Error> {
        check_tenant(tenant)?;
        dispatch!(self.list_subjects(tenant))
    }

    /// Subjects whose index `name` holds exactly `value` (ids in byte order).
    /// A compound index is just another name.
    pub async fn find_by_index(
        &self,
        tenant: &str,
        name: &str,
        value: &[u8],
    ) -> Result<Vec<Uuid>, Error> {
        check_tenant(tenant)?;
        dispatch!(self.find_by_index(tenant, name, value))
    }

    /// Subjects holding **all** the given name tokens (ids in byte order).
    /// An empty token list is refused.
    pub async fn find_by_tokens(
        &self,
        tenant: &str,
        tokens: &[Vec<u8>],
    ) -> Result<Vec<Uuid>, Error> {
        check_tenant(tenant)?;
        let tokens = query_tokens(tokens)?;
        dispatch!(self.find_by_tokens(tenant, &tokens))
    }

    /// The subjects (rows, erased ones included) whose index `name` holds
    /// exactly `value`, in id order: [`Store::find_by_index`] and
    /// [`Store::get_subject`] of each candidate in one query (one
    /// transaction instead of one per candidate).
    pub async fn find_subjects_by_index(
        &self,
        tenant: &str,
        name: &str,
        value: &[u8],
    ) -> Result<Vec<Subject>, Error> {
        check_tenant(tenant)?;
        dispatch!(self.find_subjects_by_index(tenant, name, value))
    }

    /// The subjects (rows, erased ones included) whose index holds one of
    /// `pairs` (index name, value), each match as (position of the pair,
    /// subject), in id order: many identifiers looked up in one query per
    /// [`MAX_PAIRS_PER_QUERY`] pairs (the values found in a document).
    pub async fn find_subjects_by_indexes(
        &self,
        tenant: &str,
        pairs: &[(&str, &[u8])],
    ) -> Result<Vec<(usize, Subject)>, Error> {
        check_tenant(tenant)?;
        let mut out = Vec::new();
        for (n, batch) in pairs.chunks(MAX_PAIRS_PER_QUERY).enumerate() {
            let offset = n * MAX_PAIRS_PER_QUERY;
            let rows = dispatch!(self.find_subjects_by_indexes(tenant, batch))?;
            for (name, value, subject) in rows {
                // A pair listed twice matches twice.
                for (i, (n, v)) in batch.iter().enumerate() {
                    if *n == name && *v == value.as_slice() {
                        out.push((offset + i, subject.clone()));
                    }
                }
            }
        }
        out.sort_by_key(|a| (a.1.id, a.0));
        Ok(out)
    }

    /// The subjects (rows) holding **all** the given name tokens, in id
    /// order, in one query. An empty token list is refused.
    pub async fn find_subjects_by_tokens(
        &self,
        tenant: &str,
        tokens: &[Vec<u8>],
    ) -> Result<Vec<Subject>, Error> {
        check_tenant(tenant)?;
        let tokens = query_tokens(tokens)?;
        dispatch!(self.find_subjects_by_tokens(tenant, &tokens))
    }

    // === Conversations, turns, pseudonym maps ===

    /// Insert or update a conversation (subject link and expiry).
    pub async fn put_conversation(&self, tenant: &str, c: &Conversation) -> Result<(), Error> {
        check_tenant(tenant)?;
        let c = Conversation {
            created: micros(c.created),
            expires_at: micros(c.expires_at),
            ..c.clone()
        };
        dispatch!(self.put_conversation(tenant, &c))
    }

    /// A conversation by id.
    pub async fn get_conversation(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> Result<Option<Conversation>, Error> {
        check_tenant(tenant)?;
        dispatch!(self.get_conversation(tenant, id))
    }

    /// Conversations linked to a subject, oldest first.
    pub async fn list_conversations(
        &self,
        tenant: &str,
        subject: Uuid,
    ) -> Result<Vec<Conversation>, Error> {
        check_tenant(tenant)?;
        dispatch!(self.list_conversations(tenant, subject))
    }

    /// Append a turn; its conversation must exist and `seq` must be new
    /// within it.
    pub async fn append_turn(&self, tenant: &str, t: &Turn) -> Result<(), Error> {
        check_tenant(tenant)?;
        let t = Turn {
            created: micros(t.created),
            ..t.clone()
        };
        dispatch!(self.append_turn(tenant, &t))
    }

    /// Turns of a conversation in `seq` order.
    pub async fn list_turns(&self, tenant: &str, conversation: Uuid) -> Result<Vec<Turn>, Error> {
        check_tenant(tenant)?;
        dispatch!(self.list_turns(tenant, conversation))
    }

    /// Insert or replace the pseudonym map of a conversation (which must
    /// exist).
    pub async fn put_pseudonym_map(&self, tenant: &str, m: &PseudonymMap) -> Result<(), Error> {
        check_tenant(tenant)?;
        let m = PseudonymMap {
            updated: micros(m.updated),
            ..m.clone()
        };
        dispatch!(self.put_pseudonym_map(tenant, &m))
    }

    /// The pseudonym map of a conversation.
    pub async fn get_pseudonym_map(
        &self,
        tenant: &str,
        conversation: Uuid,
    ) -> Result<Option<PseudonymMap>, Error> {
        check_tenant(tenant)?;
        dispatch!(self.get_pseudonym_map(tenant, conversation))
    }

    /// Pseudonym maps linked to a subject (directly or through one of its
    /// conversations), oldest update first.
    pub async fn list_pseudonym_maps(
        &self,
        tenant: &str,
        subject: Uuid,
    ) -> Result<Vec<PseudonymMap>, Error> {
        check_tenant(tenant)?;
        dispatch!(self.list_pseudonym_maps(tenant, subject))
    }

    /// Retention: delete the tenant's conversations with `expires_at <= now`
    /// and everything under them (turns, pseudonym maps), in one
    /// transaction. Tenant-scoped because on PostgreSQL the application role
    /// only ever sees one tenant; a sweeper loops over the tenants.
    pub async fn purge_expired(&self, tenant: &str, now: OffsetDateTime) -> Result<Purged, Error> {
        check_tenant(tenant)?;
        dispatch!(self.purge_expired(tenant, micros(now)))
    }

    // === Collections (encrypted documents and chunks) ===

    /// Insert a document with its chunks and subject links in one
    /// transaction — unless the collection already holds a document with
    /// the same `content_key`: then nothing is written and that document is
    /// returned (`created: false`). A subject that is not registered or was
    /// erased is refused ([`Error::NotFound`]`("subject")`).
    pub async fn insert_document(&self, tenant: &str, d: &NewDocument) -> Result<Inserted, Error> {
        self.insert_document_with_vectors(tenant, d, &[]).await
    }

    /// [`Store::insert_document`] that also writes the chunks' embeddings
    /// (`vectors[i]` is chunk `i`'s; one per chunk, or none) into the vector
    /// index, in the same transaction. Vectors without a vector index
    /// ([`Store::has_vector_index`] false) are refused
    /// ([`Error::Unsupported`]). When the content was already in the
    /// collection nothing is written (use [`Store::put_vectors`] to
    /// re-embed).
    pub async fn insert_document_with_vectors(
        &self,
        tenant: &str,
        d: &NewDocument,
        vectors: &[Vec<f32>],
    ) -> Result<Inserted, Error> {
        check_tenant(tenant)?;
        if !vectors.is_empty() {
            self.require_vector_index()?;
            check_vectors(vectors, d.chunks.len())?;
        }
        check_collection(&d.collection)?;
        if serde_json::from_str::<serde_json::Value>(&d.labels).is_err() {
            return Err(Error::Invalid {
                what: "document labels",
                why: "not valid JSON",
            });
        }
        let mut d = d.clone();
        d.created = micros(d.created);
        d.subjects.sort();
        d.subjects.dedup();
        dispatch!(self.insert_document(tenant, &d, vectors))
    }

    /// Link registered, live subjects to a document already in the
    /// collection (a re-ingestion that names, or finds, subjects registered
    /// since the first one); links already there stay. Returns how many
    /// links are new. A subject that is not registered or was erased is
    /// refused ([`Error::NotFound`]`("subject")`) and nothing is linked; so
    /// is a document that is not there (`NotFound("document")`).
    pub async fn link_document_subjects(
        &self,
        tenant: &str,
        collection: &str,
        document: Uuid,
        subjects: &[Uuid],
    ) -> Result<u64, Error> {
        check_tenant(tenant)?;
        check_collection(collection)?;
        let mut subjects = subjects.to_vec();
        subjects.sort();
        subjects.dedup();
        if subjects.is_empty() {
            return Ok(0);
        }
        dispatch!(self.link_document_subjects(tenant, collection, document, &subjects))
    }

    /// The documents of a collection, oldest first.
    pub async fn list_documents(
        &self,
        tenant: &str,
        collection: &str,
    ) -> Result<Vec<DocumentRow>, Error> {
        check_tenant(tenant)?;
        check_collection(collection)?;
        dispatch!(self.list_documents(tenant, collection, None))
    }

    /// One document of a collection.
    pub async fn get_document(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
    ) -> Result<Option<DocumentRow>, Error> {
        check_tenant(tenant)?;
        check_collection(collection)?;
        Ok(dispatch!(self.list_documents(tenant, collection, Some(id)))?.pop())
    }

    /// Every chunk of a collection (with its document id), in document and
    /// `seq` order.
    pub async fn list_chunks(
        &self,
        tenant: &str,
        collection: &str,
    ) -> Result<Vec<(Uuid, ChunkRow)>, Error> {
        check_tenant(tenant)?;
        check_collection(collection)?;
        dispatch!(self.list_chunks(tenant, collection))
    }

    /// Fill the sealed embeddings of a document's chunks (`(seq, sealed)`),
    /// for chunks stored before a model embedded them. Does not bump the
    /// collection's version: an embedding is derived from text already
    /// there. Returns the chunks updated (0 once the document is deleted).
    pub async fn set_chunk_embeddings(
        &self,
        tenant: &str,
        document: Uuid,
        embeddings: &[(i64, Vec<u8>)],
    ) -> Result<u64, Error> {
        check_tenant(tenant)?;
        dispatch!(self.set_chunk_embeddings(tenant, document, embeddings))
    }

    /// Delete a document in one transaction: NULL its wrapped data key
    /// (crypto-shredding), delete its chunks, subject links and row, bump
    /// the collection's version. `None` if there is no such document in the
    /// collection.
    pub async fn delete_document(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
    ) -> Result<Option<Deleted>, Error> {
        check_tenant(tenant)?;
        check_collection(collection)?;
        dispatch!(self.delete_document(tenant, collection, id))
    }

    /// The version of a collection: bumped by every ingestion, deletion and
    /// erasure that changes its documents (0 for a collection never written).
    pub async fn collection_version(&self, tenant: &str, collection: &str) -> Result<i64, Error> {
        check_tenant(tenant)?;
        check_collection(collection)?;
        dispatch!(self.collection_version(tenant, collection))
    }

    // === Vector index (PostgreSQL with pgvector) ===

    /// Whether this store holds a dense vector index: PostgreSQL whose
    /// schema has the `chunk_vectors` table (migration 0005 on a server with
    /// pgvector, see [`postgres::bootstrap`]) and whose role may use it,
    /// found when the store was connected. False on SQLite and on PostgreSQL
    /// without pgvector: the caller then builds its in-process index.
    pub fn has_vector_index(&self) -> bool {
        match &self.inner {
            Inner::Sqlite(_) => false,
            Inner::Postgres(p) => p.has_vectors(),
        }
    }

    fn require_vector_index(&self) -> Result<(), Error> {
        if self.has_vector_index() {
            Ok(())
        } else {
            Err(Error::Unsupported(
                "this store has no vector index (SQLite, or PostgreSQL without pgvector): use the in-process index",
            ))
        }
    }

    /// Write the embeddings of a document's chunks, `vectors[i]` for chunk
    /// `i`, one per chunk, in one transaction with the document's labels
    /// copied beside them. Idempotent: putting again replaces them (e.g.
    /// after a model change, or for a document ingested before the index
    /// existed). Returns the rows written. [`Error::NotFound`] if the
    /// document is not in the collection.
    pub async fn put_vectors(
        &self,
        tenant: &str,
        collection: &str,
        document: Uuid,
        vectors: &[Vec<f32>],
    ) -> Result<u64, Error> {
        check_tenant(tenant)?;
        check_collection(collection)?;
        self.require_vector_index()?;
        if vectors.is_empty() {
            return Err(Error::Invalid {
                what: "vectors",
                why: "give one vector per chunk of the document",
            });
        }
        vectors.iter().try_for_each(|v| check_vector(v))?;
        match &self.inner {
            Inner::Sqlite(_) => Err(Error::Unsupported("no vector index on SQLite")),
            Inner::Postgres(p) => p.put_vectors(tenant, collection, document, vectors).await,
        }
    }

    /// The vectors of a document in the vector index (0 without one).
    pub async fn count_vectors(&self, tenant: &str, document: Uuid) -> Result<u64, Error> {
        check_tenant(tenant)?;
        match &self.inner {
            Inner::Postgres(p) if p.has_vectors() => p.count_vectors(tenant, document).await,
            _ => Ok(0),
        }
    }

    /// The k chunks nearest to `q.vector` (cosine) that the principal may
    /// see, with eligibility evaluated inside the index scan: the tenant by
    /// Row-Level Security, then `q.collections`, the groups and the purpose
    /// in the `WHERE` clause of an iterative HNSW scan (pgvector 0.8), so k
    /// eligible hits come back under a selective filter. An ineligible chunk
    /// is never returned. See [`VectorTuning`] for the scan settings and the
    /// exact fallback.
    pub async fn search_vectors(
        &self,
        tenant: &str,
        q: &VectorQuery<'_>,
    ) -> Result<VectorSearch, Error> {
        check_tenant(tenant)?;
        if q.collections.is_empty() {
            return Err(Error::Invalid {
                what: "collections",
                why: "name at least one",
            });
        }
        for c in q.collections {
            check_collection(c)?;
        }
        check_groups(q.groups)?;
        if !(1..=1000).contains(&q.k) {
            return Err(Error::Invalid {
                what: "k",
                why: "must be 1 to 1000",
            });
        }
        check_vector(q.vector)?;
        self.require_vector_index()?;
        match &self.inner {
            Inner::Sqlite(_) => Err(Error::Unsupported("no vector index on SQLite")),
            Inner::Postgres(p) => p.search_vectors(tenant, q).await,
        }
    }

    // === Erasure (GDPR Art. 17) ===

    /// Erase a subject in one transaction: NULL its wrapped data key
    /// (crypto-shredding: a copy of its ciphertexts no longer opens; a
    /// database backup taken earlier still holds the wrapped key until the
    /// backup expires or the KEK version that wrapped it is retired — see
    /// the registry's documentation), delete its profile ciphertext, index rows, name
    /// tokens, the conversations linked to it with their turns and pseudonym
    /// maps, pseudonym maps linked to it directly, and the collection
    /// documents linked to it with their chunks and data keys; record the tombstone
    /// with `receipt` (JSON). Returns what was removed, per table.
    /// Erasing an already erased subject removes nothing and records another
    /// tombstone. [`Error::NotFound`] if the subject never existed.
    pub async fn erase_subject(
        &self,
        tenant: &str,
        subject: Uuid,
        erased_at: OffsetDateTime,
        receipt: &str,
    ) -> Result<ErasureCounts, Error> {
        check_tenant(tenant)?;
        check_receipt(receipt)?;
        dispatch!(self.erase_subject(tenant, subject, micros(erased_at), receipt))
    }

    /// What is still stored for a subject, counted per table as
    /// [`Store::erase_subject`] counts it: all zero after an erasure.
    pub async fn remaining(&self, tenant: &str, subject: Uuid) -> Result<ErasureCounts, Error> {
        check_tenant(tenant)?;
        dispatch!(self.remaining(tenant, subject))
    }

    /// Tombstones of a subject, oldest first.
    pub async fn list_erasures(&self, tenant: &str, subject: Uuid) -> Result<Vec<Erasure>, Error> {
        check_tenant(tenant)?;
        dispatch!(self.list_erasures(tenant, subject))
    }
}
