//! Encrypted document collections for private RAG, on top of the [`Store`].
//!
//! Each document has its own data key, wrapped by the key provider (as a
//! data subject's is) and stored beside the document; its name and every
//! chunk's text and heading path are sealed under that key with associated
//! data binding tenant, table, column and row (`<document>/<seq>` for a
//! chunk). Re-ingesting the same bytes into the same collection is
//! recognised by a keyed hash of the content (HMAC under a per-tenant key of
//! its SHA-256), so no plain hash of a document is stored either.
//!
//! Deleting a document NULLs its wrapped key and deletes its chunks and row
//! in one transaction. A document may name registered data subjects:
//! erasing one of them ([`Registry::erase`]) deletes the document too.
//!
//! This module takes chunks already cut (the caller chunks with
//! `rempart-rag`, which sits above the store) and hands back decrypted
//! chunks with their labels for the caller's in-memory index.

use std::collections::BTreeSet;
use std::sync::Arc;

use rempart_crypto::blind::{BlindIndex, FieldKind};
use rempart_crypto::{Aad, DataKey, WrappedKey, open, seal};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::registry::{Registry, RegistryError, key_context};
use crate::{ChunkRow, DocumentRow, Error as StoreError, NewDocument};

/// Name of the tenant key that roots content keys.
const CONTENT_ROOT: &str = "collection-content-root";

type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// A document's labels: who may retrieve it and for what. Not personal data
/// (stored in clear, so eligibility is checked without decrypting).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentLabels {
    /// Groups allowed to read; empty means every caller of the tenant.
    #[serde(default)]
    pub groups: BTreeSet<String>,
    /// Purposes it may be processed for; empty means no restriction.
    #[serde(default)]
    pub purposes: BTreeSet<String>,
    /// Under legal hold: retrievable, but not deletable until lifted.
    #[serde(default)]
    pub legal_hold: bool,
}

/// A chunk's embedding and the model that made it (vectors of different
/// models are not comparable: the tag says which one a stored vector is).
#[derive(Clone, PartialEq)]
pub struct Embedding {
    /// Model identity (e.g. `multilingual-e5-small-q4@<sha-256 prefix>`),
    /// at most 255 bytes.
    pub model: String,
    /// The vector.
    pub vector: Vec<f32>,
}

impl std::fmt::Debug for Embedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedding")
            .field("model", &self.model)
            .field("dim", &self.vector.len())
            .finish()
    }
}

impl Embedding {
    /// `len(model) | model | f32 LE…` (what is sealed).
    fn encode(&self) -> Vec<u8> {
        let tag = &self.model.as_bytes()[..self.model.len().min(255)];
        let mut out = Vec::with_capacity(1 + tag.len() + 4 * self.vector.len());
        out.push(tag.len() as u8);
        out.extend_from_slice(tag);
        for x in &self.vector {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out
    }

    fn decode(b: &[u8]) -> Option<Embedding> {
        let (&n, rest) = b.split_first()?;
        let (tag, floats) = rest.split_at_checked(usize::from(n))?;
        if floats.len() % 4 != 0 {
            return None;
        }
        Some(Embedding {
            model: String::from_utf8(tag.to_vec()).ok()?,
            vector: floats
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        })
    }
}

/// One chunk to store, in clear (sealed here).
#[derive(Clone, PartialEq)]
pub struct ChunkText {
    /// Text.
    pub text: String,
    /// Heading path.
    pub heading_path: Vec<String>,
    /// First page (1-based).
    pub page_start: u32,
    /// Last page.
    pub page_end: u32,
    /// Start offset in the source (Unicode scalar values).
    pub start: usize,
    /// End offset.
    pub end: usize,
    /// Its embedding, when a model made one.
    pub embedding: Option<Embedding>,
}

impl std::fmt::Debug for ChunkText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkText")
            .field("text_len", &self.text.len())
            .field("pages", &(self.page_start, self.page_end))
            .finish_non_exhaustive()
    }
}

/// A document to ingest.
#[derive(Debug, Clone)]
pub struct NewDocumentIn<'a> {
    /// Collection.
    pub collection: &'a str,
    /// Display name (sealed).
    pub name: &'a str,
    /// Source format (`text`, `markdown`, `pdf`...).
    pub format: &'a str,
    /// The source bytes (hashed for idempotence, not stored).
    pub content: &'a [u8],
    /// Pages.
    pub pages: u32,
    /// Labels.
    pub labels: &'a DocumentLabels,
    /// Registered data subjects it is about.
    pub subjects: &'a [Uuid],
    /// Its chunks, in order.
    pub chunks: Vec<ChunkText>,
}

/// What an ingestion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IngestReceipt {
    /// The document.
    pub document_id: Uuid,
    /// Its chunks.
    pub chunks: u64,
    /// False when the same content was already in the collection (nothing
    /// written).
    pub created: bool,
    /// The collection's version after the ingestion (see
    /// [`Collections::version`]).
    #[serde(skip)]
    pub version: i64,
}

/// A document as listed (name decrypted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentInfo {
    /// Id.
    pub id: Uuid,
    /// Collection.
    pub collection: String,
    /// Name.
    pub name: String,
    /// Source format.
    pub format: String,
    /// Pages.
    pub pages: u32,
    /// Labels.
    pub labels: DocumentLabels,
    /// Chunks.
    pub chunks: u64,
    /// Ingested when.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// Counts of a deletion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DocumentCounts {
    /// Documents.
    pub documents: u64,
    /// Chunks.
    pub chunks: u64,
    /// Wrapped data keys.
    pub data_keys: u64,
    /// Chunk vectors in the PostgreSQL vector index (absent from the JSON
    /// when zero, e.g. on SQLite).
    #[serde(skip_serializing_if = "crate::types::is_zero")]
    pub vectors: u64,
}

/// What a deletion did, and what is left (zero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionReceipt {
    /// The document.
    pub document_id: Uuid,
    /// Its collection.
    pub collection: String,
    /// Rows removed.
    pub removed: DocumentCounts,
    /// Rows of the document found after the deletion.
    pub remaining: DocumentCounts,
    /// The collection's version after the deletion.
    #[serde(skip)]
    pub version: i64,
}

/// A chunk decrypted for indexing.
#[derive(Clone, PartialEq)]
pub struct LoadedChunk {
    /// `<document>/<seq>`.
    pub id: String,
    /// Document.
    pub document_id: Uuid,
    /// Document name.
    pub document_name: Arc<str>,
    /// Document labels.
    pub labels: Arc<DocumentLabels>,
    /// Position.
    pub seq: u32,
    /// Text.
    pub text: String,
    /// Heading path.
    pub heading_path: Vec<String>,
    /// First page.
    pub page_start: u32,
    /// Last page.
    pub page_end: u32,
    /// Its embedding, if one was stored.
    pub embedding: Option<Embedding>,
}

impl std::fmt::Debug for LoadedChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedChunk")
            .field("id", &self.id)
            .field("text_len", &self.text.len())
            .finish_non_exhaustive()
    }
}

fn chunk_id(document: Uuid, seq: i64) -> String {
    format!("{document}/{seq}")
}

fn aad<'a>(tenant: &'a str, table: &'a str, column: &'a str, row: &'a str) -> Aad<'a> {
    Aad {
        tenant,
        table,
        column,
        row,
    }
}

fn corrupt(what: &'static str) -> RegistryError {
    RegistryError::Store(StoreError::Corrupt {
        table: "documents",
        what: what.into(),
    })
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// The collections of a registry's store, sealed with its key provider.
#[derive(Debug, Clone)]
pub struct Collections {
    registry: Arc<Registry>,
}

impl Collections {
    /// Collections over the registry's store and keys.
    pub fn new(registry: Arc<Registry>) -> Collections {
        Collections { registry }
    }

    /// Whether the store indexes vectors itself (PostgreSQL with pgvector):
    /// see [`crate::Store::has_vector_index`].
    pub fn has_vector_index(&self) -> bool {
        self.registry.store.has_vector_index()
    }

    /// The registry (keys, subjects) these collections are sealed with.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The store (for its vector index).
    pub fn store(&self) -> &crate::Store {
        &self.registry.store
    }

    /// The keyed hash of a document's content for this tenant.
    async fn content_key(&self, tenant: &str, content: &[u8]) -> Result<Vec<u8>> {
        let root = self.registry.tenant_key(tenant, CONTENT_ROOT).await?;
        let index = BlindIndex::new(
            &root,
            tenant,
            "document-content",
            vec![FieldKind::Exact],
            256,
        )?;
        let digest = Sha256::digest(content);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Ok(index.compute(&[&hex])?)
    }

    async fn document_key(&self, tenant: &str, row: &DocumentRow) -> Result<DataKey> {
        let wrapped = row
            .wrapped_key
            .as_deref()
            .ok_or_else(|| corrupt("data key shredded"))?;
        Ok(self
            .registry
            .kms
            .unwrap(
                &WrappedKey::parse(wrapped)?,
                &key_context(tenant, "document", &row.id.to_string()),
            )
            .await?)
    }

    fn info(tenant: &str, row: &DocumentRow, key: &DataKey) -> Result<DocumentInfo> {
        let id = row.id.to_string();
        let name = open(key, &aad(tenant, "documents", "name", &id), &row.name)?;
        let labels = serde_json::from_str(&row.labels).map_err(|_| corrupt("labels"))?;
        Ok(DocumentInfo {
            id: row.id,
            collection: row.collection.clone(),
            name: String::from_utf8_lossy(&name).into_owned(),
            format: row.format.clone(),
            pages: to_u32(row.pages),
            labels,
            chunks: row.chunks.max(0) as u64,
            created: row.created,
        })
    }

    /// Ingest a document: seal its name and chunks under a fresh data key
    /// and store them in one transaction. The same content already in the
    /// collection → its receipt with `created: false`, nothing written.
    pub async fn ingest(&self, tenant: &str, doc: &NewDocumentIn<'_>) -> Result<IngestReceipt> {
        self.ingest_with_vectors(tenant, doc, &[]).await
    }

    /// [`Collections::ingest`] that also writes the chunks' embeddings
    /// (`vectors[i]` for `doc.chunks[i]`, [`crate::VECTOR_DIM`] values each)
    /// into the store's vector index in the same transaction. Only when
    /// [`crate::Store::has_vector_index`]; otherwise pass no vectors and
    /// index in process. Content already in the collection → nothing
    /// written, as for `ingest` ([`crate::Store::put_vectors`] re-embeds).
    pub async fn ingest_with_vectors(
        &self,
        tenant: &str,
        doc: &NewDocumentIn<'_>,
        vectors: &[Vec<f32>],
    ) -> Result<IngestReceipt> {
        crate::check_collection(doc.collection)?;
        if doc.name.trim().is_empty() {
            return Err(RegistryError::Invalid("name: empty".into()));
        }
        if doc.chunks.is_empty() {
            return Err(RegistryError::Invalid("the document has no text".into()));
        }
        let content_key = self.content_key(tenant, doc.content).await?;
        let id = Uuid::now_v7();
        let row = id.to_string();
        let dek = DataKey::generate();
        let wrapped = self
            .registry
            .kms
            .wrap(&dek, &key_context(tenant, "document", &row))
            .await?;
        let chunks = doc
            .chunks
            .iter()
            .enumerate()
            .map(|(seq, c)| {
                let seq = seq as i64;
                let cid = chunk_id(id, seq);
                let heading = serde_json::to_vec(&c.heading_path).unwrap_or_default();
                ChunkRow {
                    seq,
                    text: seal(
                        &dek,
                        &aad(tenant, "chunks", "text", &cid),
                        c.text.as_bytes(),
                    ),
                    heading: seal(&dek, &aad(tenant, "chunks", "heading", &cid), &heading),
                    page_start: i64::from(c.page_start),
                    page_end: i64::from(c.page_end),
                    start: c.start as i64,
                    end: c.end as i64,
                    embedding: c.embedding.as_ref().map(|e| {
                        seal(&dek, &aad(tenant, "chunks", "embedding", &cid), &e.encode())
                    }),
                }
            })
            .collect();
        let inserted = self
            .registry
            .store
            .insert_document_with_vectors(
                tenant,
                &NewDocument {
                    id,
                    collection: doc.collection.to_owned(),
                    content_key,
                    name: seal(&dek, &aad(tenant, "documents", "name", &row), doc.name.as_bytes()),
                    format: doc.format.to_owned(),
                    pages: i64::from(doc.pages.max(1)),
                    labels: serde_json::to_string(doc.labels).unwrap_or_else(|_| "{}".into()),
                    wrapped_key: wrapped.as_str().to_owned(),
                    created: OffsetDateTime::now_utc(),
                    subjects: doc.subjects.to_vec(),
                    chunks,
                },
                vectors,
            )
            .await
            .map_err(|e| match e {
                StoreError::NotFound("subject") => RegistryError::Invalid(
                    "subjects: a listed data subject is not registered for this tenant, or was erased"
                        .into(),
                ),
                e => e.into(),
            })?;
        Ok(IngestReceipt {
            document_id: inserted.id,
            chunks: inserted.chunks,
            created: inserted.created,
            version: inserted.version,
        })
    }

    /// The documents of a collection, names decrypted, oldest first.
    pub async fn list(&self, tenant: &str, collection: &str) -> Result<Vec<DocumentInfo>> {
        let rows = self
            .registry
            .store
            .list_documents(tenant, collection)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let key = self.document_key(tenant, row).await?;
            out.push(Self::info(tenant, row, &key)?);
        }
        Ok(out)
    }

    /// One document, name decrypted (`None` if not in the collection).
    pub async fn get(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
    ) -> Result<Option<DocumentInfo>> {
        let Some(row) = self
            .registry
            .store
            .get_document(tenant, collection, id)
            .await?
        else {
            return Ok(None);
        };
        let key = self.document_key(tenant, &row).await?;
        Ok(Some(Self::info(tenant, &row, &key)?))
    }

    /// Delete a document: crypto-shred its key, delete its chunks and row
    /// (one transaction), re-count. `None` if there is no such document.
    /// A document under legal hold is refused (`Invalid`, naming the hold).
    pub async fn delete(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
    ) -> Result<Option<DeletionReceipt>> {
        let store = &self.registry.store;
        let Some(row) = store.get_document(tenant, collection, id).await? else {
            return Ok(None);
        };
        let labels: DocumentLabels =
            serde_json::from_str(&row.labels).map_err(|_| corrupt("labels"))?;
        if labels.legal_hold {
            return Err(RegistryError::Invalid(
                "the document is under legal hold: lift the hold before deleting it".into(),
            ));
        }
        let Some(deleted) = store.delete_document(tenant, collection, id).await? else {
            return Ok(None);
        };
        let left = store.get_document(tenant, collection, id).await?;
        let vectors_left = store.count_vectors(tenant, id).await?;
        Ok(Some(DeletionReceipt {
            document_id: id,
            collection: collection.to_owned(),
            removed: DocumentCounts {
                documents: 1,
                chunks: deleted.chunks,
                data_keys: u64::from(row.wrapped_key.is_some()),
                vectors: deleted.vectors,
            },
            remaining: DocumentCounts {
                documents: u64::from(left.is_some()),
                chunks: left.as_ref().map_or(0, |d| d.chunks.max(0) as u64),
                data_keys: u64::from(left.is_some_and(|d| d.wrapped_key.is_some())),
                vectors: vectors_left,
            },
            version: deleted.version,
        }))
    }

    /// Link registered, live data subjects to a document already in the
    /// collection (a re-ingestion of the same content that names, or whose
    /// scan finds, subjects registered since): erasing any of them then
    /// deletes the document. Returns how many links are new.
    pub async fn link_subjects(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
        subjects: &[Uuid],
    ) -> Result<u64> {
        self.registry
            .store
            .link_document_subjects(tenant, collection, id, subjects)
            .await
            .map_err(|e| match e {
                StoreError::NotFound("subject") => RegistryError::Invalid(
                    "subjects: a listed data subject is not registered for this tenant, or was erased"
                        .into(),
                ),
                e => e.into(),
            })
    }

    /// The collection's version: every ingestion, deletion and erasure that
    /// changes its documents bumps it (in the same transaction), so an
    /// in-memory index built at version `v` is current while this returns
    /// `v`.
    pub async fn version(&self, tenant: &str, collection: &str) -> Result<i64> {
        Ok(self
            .registry
            .store
            .collection_version(tenant, collection)
            .await?)
    }

    /// Every chunk of a collection, decrypted, with its document's name and
    /// labels (what an in-memory index is built from), and the version read
    /// before them: a change made meanwhile shows as a newer version.
    pub async fn load(&self, tenant: &str, collection: &str) -> Result<(i64, Vec<LoadedChunk>)> {
        let store = &self.registry.store;
        let version = store.collection_version(tenant, collection).await?;
        let docs = store.list_documents(tenant, collection).await?;
        let rows = store.list_chunks(tenant, collection).await?;
        let mut keys = std::collections::HashMap::new();
        for d in &docs {
            let key = self.document_key(tenant, d).await?;
            let info = Self::info(tenant, d, &key)?;
            keys.insert(
                d.id,
                (key, Arc::<str>::from(info.name), Arc::new(info.labels)),
            );
        }
        let mut out = Vec::with_capacity(rows.len());
        for (doc, c) in rows {
            // A document inserted between the two reads is picked up next time.
            let Some((key, name, labels)) = keys.get(&doc) else {
                continue;
            };
            let cid = chunk_id(doc, c.seq);
            let text = open(key, &aad(tenant, "chunks", "text", &cid), &c.text)?;
            let heading = open(key, &aad(tenant, "chunks", "heading", &cid), &c.heading)?;
            let embedding = match &c.embedding {
                None => None,
                Some(e) => {
                    let b = open(key, &aad(tenant, "chunks", "embedding", &cid), e)?;
                    Some(Embedding::decode(&b).ok_or_else(|| corrupt("embedding"))?)
                }
            };
            out.push(LoadedChunk {
                id: cid,
                document_id: doc,
                document_name: name.clone(),
                labels: labels.clone(),
                seq: to_u32(c.seq),
                text: String::from_utf8_lossy(&text).into_owned(),
                heading_path: serde_json::from_slice(&heading).map_err(|_| corrupt("heading"))?,
                page_start: to_u32(c.page_start),
                page_end: to_u32(c.page_end),
                embedding,
            });
        }
        Ok((version, out))
    }

    /// Store embeddings made after ingestion (`(document, seq, embedding)`),
    /// sealed under each document's key. A document deleted meanwhile is
    /// skipped. Returns the chunks updated.
    pub async fn store_embeddings(
        &self,
        tenant: &str,
        collection: &str,
        embeddings: &[(Uuid, u32, Embedding)],
    ) -> Result<u64> {
        let mut by_doc: std::collections::BTreeMap<Uuid, Vec<(u32, &Embedding)>> =
            std::collections::BTreeMap::new();
        for (d, seq, e) in embeddings {
            by_doc.entry(*d).or_default().push((*seq, e));
        }
        let store = &self.registry.store;
        let mut n = 0;
        for (doc, items) in by_doc {
            let Some(row) = store.get_document(tenant, collection, doc).await? else {
                continue;
            };
            let Ok(key) = self.document_key(tenant, &row).await else {
                continue;
            };
            let sealed: Vec<(i64, Vec<u8>)> = items
                .into_iter()
                .map(|(seq, e)| {
                    let cid = chunk_id(doc, i64::from(seq));
                    let b = seal(&key, &aad(tenant, "chunks", "embedding", &cid), &e.encode());
                    (i64::from(seq), b)
                })
                .collect();
            n += store.set_chunk_embeddings(tenant, doc, &sealed).await?;
        }
        Ok(n)
    }
}
