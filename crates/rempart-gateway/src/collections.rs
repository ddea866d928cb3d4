//! `/v1/collections`: encrypted document collections and private RAG,
//! scoped to the caller's tenant; eligibility (the key's groups, the
//! request's purpose) is checked inside the retriever.
//!
//! | method and path | what |
//! |---|---|
//! | `POST /v1/collections/{c}/documents` | ingest `{"name", "text" \| "markdown" \| "content_base64", "labels"?, "subjects"?, "link_subjects"?}` → 201 receipt (200 when the same content was already there); registered subjects found in the text are linked (see [`crate::linking`]) |
//! | `GET /v1/collections/{c}/documents` | the documents (names decrypted, labels, chunk counts) |
//! | `DELETE /v1/collections/{c}/documents/{id}` | crypto-shred and delete → receipt |
//! | `POST /v1/collections/{c}/search` | `{"query", "k"?, "purpose"?}` → admissible hits and the denied count |
//!
//! The store is the source of truth: each (tenant, collection) has an
//! in-memory BM25 index — and, with an embedding model (`[retrieval]`), a
//! dense HNSW index of the chunks' vectors — built from the decrypted chunks
//! on first use and updated by this process's ingestions and deletions;
//! nothing is indexed on disk, so a deleted document leaves nothing behind.
//! Vectors are computed in-process (`rempart-embed`) at ingestion and
//! stored sealed beside the chunk text; a chunk stored without one (ingested
//! before a model was configured, or by another model) is embedded when its
//! collection is loaded, and the vector stored. A search then runs BM25 and
//! the dense search, each with eligibility inside, and fuses them by
//! reciprocal rank. Every search first reads the collection's version
//! (bumped in the same transaction as every change, erasures included): an
//! index built at an older version — a change by another replica or by
//! `rempart ingest` — is rebuilt.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use rempart_ingest::IngestError;
use rempart_rag::{
    Bm25Index, Bm25Params, Hit, HnswIndex, HnswParams, HybridQuery, Labels, NewChunk, Query,
    TermKey,
};
use rempart_store::collections::{
    ChunkText, Collections, DeletionReceipt, DocumentLabels, Embedding, IngestReceipt, LoadedChunk,
    NewDocumentIn,
};
use rempart_store::registry::{Registry, RegistryError};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::AppState;
use crate::embedder::Embedder;
use crate::error::ApiError;
use crate::request::Principal;

/// Chunks retrieved for a chat request.
pub const CHAT_K: usize = 4;
/// Hits a search returns unless the body asks otherwise.
const SEARCH_K: usize = 5;
/// Most hits a search may ask for.
const MAX_K: usize = 50;
/// BM25 evidence threshold: a chunk must match at least one query term
/// (after analysis: stop words removed, stemmed); below it, a refusal.
pub const MIN_SCORE: f32 = 0.0;

/// What an indexed chunk carries besides its postings.
struct Meta {
    document: Uuid,
    name: Arc<str>,
    page_start: u32,
    page_end: u32,
    heading_path: Vec<String>,
    text: String,
}

/// The version of an index known to be behind the store (rebuilt at the
/// next search).
const STALE: i64 = -1;

/// One (tenant, collection): its indexes and chunk texts, as of a version.
struct Loaded {
    index: Bm25Index,
    /// With an embedding model: every chunk's vector.
    dense: Option<HnswIndex>,
    chunks: HashMap<String, Meta>,
    version: i64,
}

/// An admissible chunk, best first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Retrieved {
    /// Chunk id (`<document>/<seq>`).
    pub chunk: String,
    /// Score (BM25 alone; RRF when dense retrieval or several collections
    /// are fused).
    pub score: f32,
    /// Collection.
    pub collection: String,
    /// Document id.
    pub document: Uuid,
    /// Document name.
    pub name: String,
    /// First page.
    pub page_start: u32,
    /// Last page.
    pub page_end: u32,
    /// Heading path.
    pub heading_path: Vec<String>,
    /// Text.
    pub text: String,
}

/// Admissible hits, and how many candidates eligibility denied.
#[derive(Debug, Clone, Default)]
pub struct Retrieval {
    /// Hits, best first (empty: refuse).
    pub hits: Vec<Retrieved>,
    /// Candidates denied by eligibility, over all collections.
    pub denied: usize,
}

/// The retriever: collections in the store, indexes in memory.
pub struct Retriever {
    collections: Collections,
    indexes: RwLock<HashMap<(String, String), Loaded>>,
    term_key: TermKey,
    embedder: Option<Arc<Embedder>>,
    min_cosine: f32,
    /// The dense side runs in the store (PostgreSQL with pgvector) instead
    /// of an in-process HNSW index.
    store_dense: bool,
}

impl std::fmt::Debug for Retriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retriever").finish_non_exhaustive()
    }
}

fn labels_of(tenant: &str, l: &DocumentLabels) -> Labels {
    Labels {
        tenant: tenant.to_owned(),
        groups: l.groups.clone(),
        purposes: l.purposes.clone(),
        legal_hold: l.legal_hold,
    }
}

fn index_text(heading_path: &[String], text: &str) -> String {
    let context = heading_path.join(" > ");
    if context.is_empty() {
        text.to_owned()
    } else {
        format!("{context}\n{text}")
    }
}

impl Loaded {
    fn new(key: TermKey, dim: Option<usize>) -> Result<Loaded, RegistryError> {
        Ok(Loaded {
            index: Bm25Index::new(key, Bm25Params::default()).map_err(rag_error)?,
            dense: match dim {
                Some(d) => Some(HnswIndex::new(d, HnswParams::default()).map_err(rag_error)?),
                None => None,
            },
            chunks: HashMap::new(),
            version: 0,
        })
    }

    /// Index a chunk; with a dense index, `c.embedding` must be set.
    fn add(&mut self, tenant: &str, c: LoadedChunk) -> Result<(), RegistryError> {
        let document = c.document_id.to_string();
        let labels = labels_of(tenant, &c.labels);
        self.index
            .add(NewChunk {
                id: &c.id,
                document: &document,
                text: &index_text(&c.heading_path, &c.text),
                lang: None,
                labels: &labels,
            })
            .map_err(rag_error)?;
        if let Some(dense) = &mut self.dense {
            let e = c
                .embedding
                .as_ref()
                .ok_or_else(|| RegistryError::Invalid(format!("chunk {}: no embedding", c.id)))?;
            dense
                .add(&c.id, &document, &e.vector, &labels)
                .map_err(rag_error)?;
        }
        self.chunks.insert(
            c.id,
            Meta {
                document: c.document_id,
                name: c.document_name,
                page_start: c.page_start,
                page_end: c.page_end,
                heading_path: c.heading_path,
                text: c.text,
            },
        );
        Ok(())
    }
}

fn rag_error(e: rempart_rag::Error) -> RegistryError {
    RegistryError::Invalid(format!("retrieval index: {e}"))
}

fn embed_error(e: crate::embedder::EmbedError) -> RegistryError {
    RegistryError::Invalid(format!("dense retrieval: {e}"))
}

impl Retriever {
    /// A lexical (BM25) retriever over the registry's store and keys.
    pub fn new(registry: Arc<Registry>) -> Retriever {
        // Terms are hashed under a random per-process key (the index never
        // leaves memory).
        let key: [u8; 16] = rand::random();
        Retriever {
            collections: Collections::new(registry),
            indexes: RwLock::new(HashMap::new()),
            term_key: TermKey::new(key),
            embedder: None,
            min_cosine: 0.8,
            store_dense: false,
        }
    }

    /// The retriever `[retrieval]` asks for: hybrid when an embedding model
    /// is configured (loaded and checked now), else lexical.
    pub fn from_config(
        config: &crate::config::Config,
        registry: Arc<Registry>,
    ) -> Result<Retriever, crate::embedder::EmbedError> {
        let r = &config.retrieval;
        let retriever = Retriever::new(registry);
        Ok(match &r.embedding_model {
            None => retriever,
            Some(path) => {
                let e = Embedder::load(path, r.embedding_threads)?;
                tracing::info!(model = %e.tag(), threads = r.embedding_threads, "Hybrid retrieval: BM25 and dense (local embedding model).");
                retriever.with_embedder(Arc::new(e), r.min_cosine)
            }
        })
    }

    /// Hybrid retrieval: chunks are embedded with `embedder`, and a dense
    /// hit counts as evidence from cosine similarity `min_cosine` up.
    /// On PostgreSQL with pgvector the vectors also go to the store's index
    /// (in the ingestion's transaction) and the dense search runs there.
    pub fn with_embedder(mut self, embedder: Arc<Embedder>, min_cosine: f32) -> Retriever {
        self.store_dense =
            self.collections.has_vector_index() && embedder.dim() == rempart_store::VECTOR_DIM;
        self.embedder = Some(embedder);
        self.min_cosine = min_cosine;
        self
    }

    /// Where the dense search runs: `"pgvector"`, `"in-process"`, or `None`
    /// (lexical only).
    pub fn dense_index(&self) -> Option<&'static str> {
        self.embedder.as_ref()?;
        Some(if self.store_dense {
            "pgvector"
        } else {
            "in-process"
        })
    }

    /// The embedding model's tag, when retrieval is hybrid.
    pub fn embedding_model(&self) -> Option<&str> {
        self.embedder.as_deref().map(Embedder::tag)
    }

    /// Vectors for chunks that have none from this model: computed now and
    /// stored (sealed), so the next load reads them.
    async fn fill_embeddings(
        &self,
        tenant: &str,
        collection: &str,
        chunks: &mut [LoadedChunk],
    ) -> Result<(), RegistryError> {
        let Some(embedder) = &self.embedder else {
            return Ok(());
        };
        let missing: Vec<usize> = (0..chunks.len())
            .filter(|&i| {
                chunks[i]
                    .embedding
                    .as_ref()
                    .is_none_or(|e| e.model != embedder.tag())
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let texts = missing
            .iter()
            .map(|&i| index_text(&chunks[i].heading_path, &chunks[i].text))
            .collect();
        let started = std::time::Instant::now();
        let vectors = embedder.passages(texts).await.map_err(embed_error)?;
        let mut fill = Vec::with_capacity(missing.len());
        for (i, vector) in missing.into_iter().zip(vectors) {
            let e = Embedding {
                model: embedder.tag().to_owned(),
                vector,
            };
            fill.push((chunks[i].document_id, chunks[i].seq, e.clone()));
            chunks[i].embedding = Some(e);
        }
        self.collections
            .store_embeddings(tenant, collection, &fill)
            .await?;
        if self.store_dense {
            // The store's index takes a document's vectors all at once.
            let docs: BTreeSet<Uuid> = fill.iter().map(|(d, _, _)| *d).collect();
            for doc in docs {
                let vectors: Vec<Vec<f32>> = chunks
                    .iter()
                    .filter(|c| c.document_id == doc)
                    .filter_map(|c| c.embedding.as_ref().map(|e| e.vector.clone()))
                    .collect();
                match self
                    .collections
                    .store()
                    .put_vectors(tenant, collection, doc, &vectors)
                    .await
                {
                    // Deleted meanwhile: nothing to index.
                    Err(rempart_store::Error::NotFound(_)) => {}
                    r => {
                        r?;
                    }
                }
            }
        }
        tracing::info!(
            collection = %collection,
            chunks = fill.len(),
            ms = started.elapsed().as_millis() as u64,
            "Embedded chunks stored without a vector of this model."
        );
        Ok(())
    }

    /// The store side.
    pub fn collections(&self) -> &Collections {
        &self.collections
    }

    /// Build the index of a collection unless the one in memory is at the
    /// store's current version.
    async fn ensure(&self, tenant: &str, collection: &str) -> Result<(), RegistryError> {
        let key = (tenant.to_owned(), collection.to_owned());
        let current = self.collections.version(tenant, collection).await?;
        let fresh = |l: Option<&Loaded>| l.is_some_and(|l| l.version >= current);
        if fresh(self.indexes.read().await.get(&key)) {
            return Ok(());
        }
        // Loaded without holding the lock (other collections and tenants
        // keep searching). The version is read before the chunks, so a
        // change committed meanwhile shows as a newer version and the next
        // search rebuilds; a concurrent build keeps whichever is newer.
        let (version, mut chunks) = self.collections.load(tenant, collection).await?;
        self.fill_embeddings(tenant, collection, &mut chunks)
            .await?;
        let dim = match &self.embedder {
            Some(e) if !self.store_dense => Some(e.dim()),
            _ => None,
        };
        let mut loaded = Loaded::new(self.term_key.clone(), dim)?;
        loaded.version = version;
        for c in chunks {
            loaded.add(tenant, c)?;
        }
        let mut indexes = self.indexes.write().await;
        if indexes.get(&key).is_none_or(|l| l.version < version) {
            indexes.insert(key, loaded);
        }
        Ok(())
    }

    /// Store one file (see [`extract_file`] and [`SourceFile::text`]):
    /// chunked, sealed, and added to the in-memory index when it is current.
    pub async fn ingest(
        &self,
        tenant: &str,
        collection: &str,
        file: &SourceFile,
        labels: &DocumentLabels,
        subjects: &[Uuid],
    ) -> Result<IngestReceipt, RegistryError> {
        let chunks = rempart_rag::chunk(&file.document, rempart_rag::ChunkerConfig::default())
            .map_err(rag_error)?;
        let mut chunks: Vec<ChunkText> = chunks
            .into_iter()
            .map(|c| ChunkText {
                text: match &c.table_header {
                    Some(h) => format!("{h}\n{}", c.text),
                    None => c.text,
                },
                heading_path: c.heading_path,
                page_start: c.page_start,
                page_end: c.page_end,
                start: c.start,
                end: c.end,
                embedding: None,
            })
            .collect();
        if let Some(embedder) = &self.embedder {
            let texts = chunks
                .iter()
                .map(|c| index_text(&c.heading_path, &c.text))
                .collect();
            let vectors = embedder.passages(texts).await.map_err(embed_error)?;
            for (c, vector) in chunks.iter_mut().zip(vectors) {
                c.embedding = Some(Embedding {
                    model: embedder.tag().to_owned(),
                    vector,
                });
            }
        }
        let texts = chunks.clone();
        let vectors: Vec<Vec<f32>> = if self.store_dense {
            chunks
                .iter()
                .filter_map(|c| c.embedding.as_ref().map(|e| e.vector.clone()))
                .collect()
        } else {
            Vec::new()
        };
        let receipt = self
            .collections
            .ingest_with_vectors(
                tenant,
                &NewDocumentIn {
                    collection,
                    name: &file.name,
                    format: file.format,
                    content: &file.bytes,
                    pages: file.pages,
                    labels,
                    subjects,
                    chunks,
                },
                &vectors,
            )
            .await?;
        if receipt.created {
            let key = (tenant.to_owned(), collection.to_owned());
            let mut indexes = self.indexes.write().await;
            let document = receipt.document_id.to_string();
            if let Some(loaded) = indexes.get_mut(&key) {
                // In place only when this is the one change since the build;
                // otherwise (or if adding fails) rebuilt at the next search.
                let only_change = loaded.version + 1 == receipt.version
                    && !loaded.index.contains_document(&document);
                loaded.version = STALE;
                if only_change {
                    let name: Arc<str> = Arc::from(file.name.as_str());
                    let labels = Arc::new(labels.clone());
                    for (seq, c) in texts.into_iter().enumerate() {
                        loaded.add(
                            tenant,
                            LoadedChunk {
                                id: format!("{document}/{seq}"),
                                document_id: receipt.document_id,
                                document_name: name.clone(),
                                labels: labels.clone(),
                                seq: seq as u32,
                                text: c.text,
                                heading_path: c.heading_path,
                                page_start: c.page_start,
                                page_end: c.page_end,
                                embedding: c.embedding,
                            },
                        )?;
                    }
                    loaded.version = receipt.version;
                }
            }
        }
        Ok(receipt)
    }

    /// Delete a document from the store and from the in-memory index.
    pub async fn delete(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
    ) -> Result<Option<DeletionReceipt>, RegistryError> {
        let receipt = self.collections.delete(tenant, collection, id).await?;
        if let Some(r) = &receipt {
            let key = (tenant.to_owned(), collection.to_owned());
            let mut indexes = self.indexes.write().await;
            if let Some(loaded) = indexes.get_mut(&key) {
                // Its text leaves memory now; the postings too unless the
                // index refuses, and then it is rebuilt at the next search.
                loaded.chunks.retain(|_, m| m.document != id);
                let doc = id.to_string();
                let removed = loaded.index.delete_document(&doc).is_ok()
                    && loaded
                        .dense
                        .as_mut()
                        .is_none_or(|d| d.delete_document(&doc).is_ok());
                loaded.version = if removed && loaded.version + 1 == r.version {
                    r.version
                } else {
                    STALE
                };
            }
        }
        Ok(receipt)
    }

    /// Forget every in-memory index of a tenant (after a data subject's
    /// erasure deleted documents, so their text leaves this process's
    /// memory now, not at the next search): rebuilt on next use.
    pub async fn forget_tenant(&self, tenant: &str) {
        self.indexes.write().await.retain(|(t, _), _| t != tenant);
    }

    /// The admissible chunks for `query` across `collections` as
    /// `principal`: per collection, BM25 with eligibility inside the
    /// postings walk and — with an embedding model — the dense search with
    /// eligibility inside the graph walk, fused by reciprocal rank; the
    /// collections' lists fused by reciprocal rank when there are several.
    /// `denied` counts, per collection, the larger of the two retrievers'
    /// denials (each counts the distinct ineligible chunks it met).
    pub async fn search(
        &self,
        principal: &rempart_rag::Principal,
        collections: &[String],
        query: &str,
        k: usize,
    ) -> Result<Retrieval, RegistryError> {
        let tenant = principal.tenant.as_str();
        for c in collections {
            rempart_store::check_collection(c).map_err(RegistryError::Store)?;
            self.ensure(tenant, c).await?;
        }
        let vector = match &self.embedder {
            Some(e) => Some(e.query(query).await.map_err(embed_error)?),
            None => None,
        };
        // The store's dense search first (the in-memory indexes are not
        // held across it).
        let mut store_hits: HashMap<&String, (Vec<Hit>, usize)> = HashMap::new();
        if let (true, Some(v)) = (self.store_dense, &vector) {
            let groups: Vec<String> = principal.groups.iter().cloned().collect();
            for c in collections {
                let d = self
                    .collections
                    .store()
                    .search_vectors(
                        tenant,
                        &rempart_store::VectorQuery {
                            collections: &[c.as_str()],
                            vector: v,
                            groups: &groups,
                            purpose: principal.purpose.as_deref(),
                            k: (2 * k).max(20),
                            tuning: rempart_store::VectorTuning::default(),
                        },
                    )
                    .await
                    .map_err(RegistryError::Store)?;
                let hits = d
                    .hits
                    .iter()
                    .filter(|h| h.score >= self.min_cosine)
                    .map(|h| Hit {
                        chunk: h.chunk_id(),
                        document: h.document_id.to_string(),
                        score: h.score,
                    })
                    .collect();
                store_hits.insert(c, (hits, d.denied.unwrap_or(0) as usize));
            }
        }
        let indexes = self.indexes.read().await;
        let q = Query {
            text: query,
            lang: None,
            k,
            min_score: MIN_SCORE,
        };
        let mut lists: Vec<(Vec<Hit>, &str)> = Vec::new();
        let mut denied = 0;
        for c in collections {
            let Some(loaded) = indexes.get(&(tenant.to_owned(), c.clone())) else {
                continue;
            };
            match (&loaded.dense, &vector) {
                (Some(dense), Some(v)) => {
                    let h = rempart_rag::hybrid(
                        &loaded.index,
                        dense,
                        &HybridQuery {
                            // Each side's list is deeper than k: fusion
                            // promotes what both rank well.
                            lexical: Query {
                                k: (2 * k).max(20),
                                ..q
                            },
                            vector: v,
                            min_cosine: self.min_cosine,
                            k,
                        },
                        principal,
                    )
                    .map_err(rag_error)?;
                    denied += h.denied_lexical.max(h.denied_dense);
                    lists.push((h.hits, c.as_str()));
                }
                (None, Some(_)) if self.store_dense => {
                    let depth = (2 * k).max(20);
                    let l = loaded.index.search(&Query { k: depth, ..q }, principal);
                    let (dense, dense_denied) = store_hits.remove(c).unwrap_or_default();
                    denied += l.denied.max(dense_denied);
                    lists.push((
                        rempart_rag::rrf(&[&l.hits, &dense], rempart_rag::RRF_K, k),
                        c.as_str(),
                    ));
                }
                _ => {
                    let r = loaded.index.search(&q, principal);
                    denied += r.denied;
                    lists.push((r.hits, c.as_str()));
                }
            }
        }
        let fused: Vec<(Hit, &str)> = if lists.len() == 1 {
            let (hits, c) = lists.pop().unwrap_or_default();
            hits.into_iter().map(|h| (h, c)).collect()
        } else {
            let of: HashMap<&str, &str> = lists
                .iter()
                .flat_map(|(hits, c)| hits.iter().map(move |h| (h.chunk.as_str(), *c)))
                .collect();
            let refs: Vec<&[Hit]> = lists.iter().map(|(h, _)| h.as_slice()).collect();
            rempart_rag::rrf(&refs, rempart_rag::RRF_K, k)
                .into_iter()
                .map(|h| {
                    let c = of.get(h.chunk.as_str()).copied().unwrap_or_default();
                    (h, c)
                })
                .collect()
        };
        let hits = fused
            .into_iter()
            .filter_map(|(h, c)| {
                let m = indexes
                    .get(&(tenant.to_owned(), c.to_owned()))?
                    .chunks
                    .get(&h.chunk)?;
                Some(Retrieved {
                    chunk: h.chunk,
                    score: h.score,
                    collection: c.to_owned(),
                    document: m.document,
                    name: m.name.to_string(),
                    page_start: m.page_start,
                    page_end: m.page_end,
                    heading_path: m.heading_path.clone(),
                    text: m.text.clone(),
                })
            })
            .collect();
        Ok(Retrieval { hits, denied })
    }
}

/// The eligibility predicate of a caller: its tenant, its key's groups and
/// the purpose it declares.
pub fn principal_of(p: &Principal, purpose: Option<&str>) -> rempart_rag::Principal {
    rempart_rag::Principal {
        tenant: p.tenant.clone(),
        groups: p.groups.iter().cloned().collect(),
        purpose: purpose.map(str::to_owned),
    }
}

/// The system message that hands the sources to the model.
pub fn sources_message(hits: &[Retrieved]) -> String {
    let mut s = String::from(
        "Answer from the numbered sources below and cite them as [n]. If they do not contain the answer, say so.\n",
    );
    for (i, h) in hits.iter().enumerate() {
        let pages = if h.page_start == h.page_end {
            format!("p. {}", h.page_start)
        } else {
            format!("pp. {}-{}", h.page_start, h.page_end)
        };
        let heading = if h.heading_path.is_empty() {
            String::new()
        } else {
            format!(" — {}", h.heading_path.join(" > "))
        };
        s.push_str(&format!(
            "\n[{}] {} ({pages}){heading}\n{}\n",
            i + 1,
            h.name,
            h.text
        ));
    }
    s
}

/// The citations of an answer, numbered as in [`sources_message`].
pub fn citations(hits: &[Retrieved]) -> Value {
    Value::Array(
        hits.iter()
            .enumerate()
            .map(|(i, h)| {
                json!({
                    "source": i + 1,
                    "chunk": h.chunk,
                    "collection": h.collection,
                    "document": h.document,
                    "name": h.name,
                    "page_start": h.page_start,
                    "page_end": h.page_end,
                })
            })
            .collect(),
    )
}

// === HTTP ===

/// Errors of the collections and the retriever as API errors (no values
/// inside: they name fields).
pub(crate) fn api_error(e: RegistryError) -> ApiError {
    crate::error::registry_error(e, "document store")
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::BadRequest {
        message: "the document id is not a UUID".into(),
        param: Some("id".into()),
    })
}

fn check_collection(c: &str) -> Result<(), ApiError> {
    rempart_store::check_collection(c).map_err(|e| api_error(RegistryError::Store(e)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestBody {
    name: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    markdown: Option<String>,
    /// A file (PDF, DOCX, HTML, EML, text, Markdown; images with the `ocr`
    /// feature), base64: the format comes from its bytes, then `name`.
    #[serde(default)]
    content_base64: Option<String>,
    #[serde(default)]
    labels: LabelsBody,
    #[serde(default)]
    subjects: Vec<Uuid>,
    /// Link the registered data subjects the personal-data scan finds in
    /// the text (default); `false`: only those in `subjects`.
    #[serde(default = "yes")]
    link_subjects: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LabelsBody {
    #[serde(default)]
    groups: BTreeSet<String>,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    purposes: BTreeSet<String>,
    #[serde(default)]
    legal_hold: bool,
}

/// `POST /v1/collections/{c}/documents`. Audited (endpoint `ingest`): the
/// document ids (the file's, then its attachments'), the chunks written,
/// the personal data the scan found (counts by type) and how many
/// registered subjects were linked; never a name or a word of the text.
pub(crate) async fn ingest(
    State(state): State<Arc<AppState>>,
    parts: crate::RequestParts,
    Path(collection): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let ctx = crate::context(&state, &parts);
    let mut rec = ctx.audit_draft(&state.config, "ingest", "");
    let result = ingest_steps(&state, &parts.principal, &collection, body, &mut rec).await;
    audited(&state, &ctx, rec, result).await
}

/// Record `rec` (with the latency, and the outcome of `result`), then hand
/// the response back with its `X-Rempart-Audit-Id`: no answer without its
/// record.
async fn audited(
    state: &AppState,
    ctx: &crate::request::RequestCtx,
    mut rec: rempart_audit::AuditRecord,
    result: Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    rec.latency_ms = ctx.started.elapsed().as_millis() as u64;
    if let Err(e) = &result {
        rec.outcome = crate::chat::outcome_of(e);
        rec.error_code = Some(e.code().to_owned());
    }
    let id = crate::chat::record(state, ctx, rec, &crate::telemetry::Trace::default()).await?;
    let mut resp = result?;
    if let Ok(v) = http::HeaderValue::from_str(&id) {
        resp.headers_mut()
            .insert(crate::headers::X_REMPART_AUDIT_ID, v);
    }
    Ok(resp)
}

fn scan_error(e: crate::linking::ScanError) -> ApiError {
    match e {
        crate::linking::ScanError::Detector(reason) => ApiError::PiiRefusal { reason },
        crate::linking::ScanError::Registry(e) => api_error(e),
    }
}

/// A receipt as returned: the store's, with how many registered subjects
/// the document is linked to by this ingestion and how many of them the
/// personal-data scan found (counts, never who).
pub fn receipt_json(r: &IngestReceipt, linked_subjects: usize, subjects_found: usize) -> Value {
    let mut v = json!(r);
    v["linked_subjects"] = json!(linked_subjects);
    v["subjects_found"] = json!(subjects_found);
    v
}

/// One stored file of an ingestion: its receipt, the subjects linked to it
/// and how many of them the scan found.
#[derive(Debug)]
pub struct FileIngested {
    /// The store's receipt.
    pub receipt: IngestReceipt,
    /// Subjects linked by this ingestion (named, then found).
    pub linked: Vec<Uuid>,
    /// Subjects the personal-data scan found.
    pub found: usize,
}

impl FileIngested {
    /// The receipt as the API and the CLI show it.
    pub fn receipt_json(&self) -> Value {
        receipt_json(&self.receipt, self.linked.len(), self.found)
    }
}

/// An ingestion of extracted files (the gateway's route and `rempart
/// ingest` alike): scan them for personal data (and, with `link`, find the
/// registered subjects they name), store each with the subjects named by the
/// caller and those found — content already in the collection is not
/// written again, but subjects registered since are linked to it — and
/// fill the audit record's counts (PII by type, sensitivity, documents,
/// chunks written, subjects linked).
#[allow(clippy::too_many_arguments)]
pub async fn ingest_files(
    retriever: &Retriever,
    inspector: Arc<dyn crate::inspect::Inspector>,
    tenant: &str,
    collection: &str,
    files: &[SourceFile],
    labels: &DocumentLabels,
    named: &[Uuid],
    link: bool,
    rec: &mut rempart_audit::AuditRecord,
) -> Result<Vec<FileIngested>, crate::linking::ScanError> {
    let scan = crate::linking::scan(
        retriever.collections().registry(),
        inspector,
        tenant,
        files,
        link,
    )
    .await?;
    rec.pii_counts = scan.counts_by_name();
    rec.sensitivity = scan.sensitivity().into();
    let mut out = Vec::with_capacity(files.len());
    let mut linked = BTreeSet::new();
    for (file, found) in files.iter().zip(&scan.subjects) {
        let subjects = crate::linking::subjects_for(named, found);
        let receipt = retriever
            .ingest(tenant, collection, file, labels, &subjects)
            .await?;
        if !receipt.created && !subjects.is_empty() {
            retriever
                .collections()
                .link_subjects(tenant, collection, receipt.document_id, &subjects)
                .await?;
        }
        tracing::info!(collection = %collection, document = %receipt.document_id, chunks = receipt.chunks, created = receipt.created, linked_subjects = subjects.len(), "Document ingested.");
        rec.documents.push(receipt.document_id.to_string());
        if receipt.created {
            rec.document_chunks += receipt.chunks;
        }
        linked.extend(subjects.iter().copied());
        rec.linked_subjects = u32::try_from(linked.len()).unwrap_or(u32::MAX);
        out.push(FileIngested {
            receipt,
            linked: subjects,
            found: found.len(),
        });
    }
    Ok(out)
}

async fn ingest_steps(
    state: &AppState,
    p: &Principal,
    collection: &str,
    body: Result<Bytes, BytesRejection>,
    rec: &mut rempart_audit::AuditRecord,
) -> Result<Response, ApiError> {
    check_collection(collection)?;
    let b: IngestBody = crate::parse_body(body, state.config.server.max_body_bytes)?;
    let files = match (&b.text, &b.markdown, &b.content_base64) {
        (Some(t), None, None) => vec![SourceFile::text(&b.name, t, false)],
        (None, Some(m), None) => vec![SourceFile::text(&b.name, m, true)],
        (None, None, Some(c)) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(c.trim())
                .map_err(|_| ApiError::BadRequest {
                    message: "`content_base64` is not valid base64".into(),
                    param: Some("content_base64".into()),
                })?;
            extract_file(&b.name, bytes).map_err(|e| ApiError::BadRequest {
                message: format!("`content_base64`: {e}"),
                param: Some("content_base64".into()),
            })?
        }
        _ => {
            return Err(ApiError::BadRequest {
                message: "give exactly one of `text`, `markdown` or `content_base64`".into(),
                param: Some("text".into()),
            });
        }
    };
    let mut purposes = b.labels.purposes;
    purposes.extend(b.labels.purpose);
    let labels = DocumentLabels {
        groups: b.labels.groups,
        purposes,
        legal_hold: b.labels.legal_hold,
    };
    let done = ingest_files(
        &state.retriever,
        state.inspector.clone(),
        &p.tenant,
        collection,
        &files,
        &labels,
        &b.subjects,
        b.link_subjects,
        rec,
    )
    .await
    .map_err(scan_error)?;
    let receipts: Vec<Value> = done.iter().map(FileIngested::receipt_json).collect();
    let status = if receipts[0]["created"] == json!(true) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let attachments: Vec<Value> = files[1..]
        .iter()
        .zip(&receipts[1..])
        .map(|(f, r)| json!({"name": f.name, "format": f.format, "receipt": r}))
        .collect();
    Ok((
        status,
        Json(json!({
            "object": "document.ingested",
            "collection": collection,
            "format": files[0].format,
            "pages": files[0].pages,
            "needs_ocr": files[0].needs_ocr,
            "receipt": receipts[0],
            "attachments": attachments,
        })),
    )
        .into_response())
}

/// A file ready to store: its name, format, original bytes (for the
/// idempotence key) and extracted structure.
pub struct SourceFile {
    /// Display name (an e-mail attachment: `<mail name> / <attachment>`).
    pub name: String,
    /// `text`, `markdown`, `pdf`, `docx`, `html`, `eml`, `image`, …
    pub format: &'static str,
    /// The bytes as received.
    pub bytes: Vec<u8>,
    /// Blocks with page and offset provenance.
    pub document: rempart_rag::Document,
    /// Page count.
    pub pages: u32,
    /// Pages without a text layer that OCR did not read (no `ocr` feature).
    pub needs_ocr: Vec<u32>,
}

impl SourceFile {
    /// Text or Markdown given as a string.
    pub fn text(name: &str, text: &str, markdown: bool) -> SourceFile {
        let (format, document) = if markdown {
            ("markdown", rempart_rag::parse_markdown(text))
        } else {
            ("text", rempart_rag::parse_plain(text))
        };
        SourceFile {
            name: name.to_owned(),
            format,
            bytes: text.as_bytes().to_vec(),
            pages: document.blocks.iter().map(|b| b.page).max().unwrap_or(1),
            document,
            needs_ocr: Vec::new(),
        }
    }
}

/// Extract a file with `rempart-ingest` (format from its bytes, then
/// `name`). An e-mail's attachments follow it as documents of their own
/// (`<mail> / <attachment>`), so each can be cited and deleted; one that
/// cannot be extracted is skipped (logged by position, never by content).
pub fn extract_file(name: &str, bytes: Vec<u8>) -> Result<Vec<SourceFile>, IngestError> {
    let e = rempart_ingest::extract(&bytes, Some(name))?;
    let mut out = Vec::with_capacity(1 + e.attachments.len());
    push_extracted(&mut out, name.to_owned(), bytes, e);
    Ok(out)
}

/// `e` as a [`SourceFile`], then its attachments (and theirs), in order.
fn push_extracted(
    out: &mut Vec<SourceFile>,
    name: String,
    bytes: Vec<u8>,
    e: rempart_ingest::Extracted,
) {
    let needs_ocr = e
        .needs_ocr
        .iter()
        .copied()
        .filter(|p| !e.ocr_pages.contains(p))
        .collect();
    out.push(SourceFile {
        name: name.clone(),
        format: e.format.name(),
        bytes,
        document: e.document,
        pages: e.pages,
        needs_ocr,
    });
    for a in e.attachments {
        match a.extracted {
            Ok(x) => {
                let label = a
                    .name
                    .unwrap_or_else(|| format!("attachment {}", a.index + 1));
                // The attachment's own text identifies it for idempotence
                // (its raw bytes are not kept apart).
                let mut x = *x;
                let text = std::mem::take(&mut x.text).into_bytes();
                push_extracted(out, format!("{name} / {label}"), text, x);
            }
            Err(err) => {
                tracing::warn!(attachment = a.index, error = %err, "Attachment not extracted.");
            }
        }
    }
}

/// `GET /v1/collections/{c}/documents`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(collection): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_collection(&collection)?;
    let docs = state
        .retriever
        .collections()
        .list(&p.tenant, &collection)
        .await
        .map_err(api_error)?;
    Ok(Json(json!({"object": "list", "data": docs})))
}

/// `DELETE /v1/collections/{c}/documents/{id}`. Audited (endpoint
/// `delete_document`): the document id and the chunks removed.
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    parts: crate::RequestParts,
    Path((collection, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ctx = crate::context(&state, &parts);
    let mut rec = ctx.audit_draft(&state.config, "delete_document", "");
    let result = delete_steps(&state, &parts.principal, &collection, &id, &mut rec).await;
    audited(&state, &ctx, rec, result).await
}

async fn delete_steps(
    state: &AppState,
    p: &Principal,
    collection: &str,
    id: &str,
    rec: &mut rempart_audit::AuditRecord,
) -> Result<Response, ApiError> {
    check_collection(collection)?;
    let id = parse_id(id)?;
    rec.documents = vec![id.to_string()];
    let receipt = state
        .retriever
        .delete(&p.tenant, collection, id)
        .await
        .map_err(api_error)?
        .ok_or_else(|| ApiError::Missing {
            what: format!("no document {id} in collection `{collection}` for this tenant"),
        })?;
    tracing::info!(collection = %collection, document = %id, chunks = receipt.removed.chunks, "Document deleted.");
    rec.document_chunks = receipt.removed.chunks;
    Ok(Json(json!(receipt)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchBody {
    query: String,
    #[serde(default)]
    k: Option<usize>,
    #[serde(default)]
    purpose: Option<String>,
}

/// `POST /v1/collections/{c}/search`. Audited like a chat request
/// (endpoint `search`): the chunk ids returned, the denied count, and
/// `refused_no_evidence` when nothing admissible matched.
pub(crate) async fn search(
    State(state): State<Arc<AppState>>,
    parts: crate::RequestParts,
    Path(collection): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let ctx = crate::context(&state, &parts);
    let mut rec = ctx.audit_draft(&state.config, "search", "");
    let result = search_steps(&state, &parts.principal, &collection, body, &mut rec).await;
    rec.latency_ms = ctx.started.elapsed().as_millis() as u64;
    if let Err(e) = &result {
        rec.outcome = crate::chat::outcome_of(e);
        rec.error_code = Some(e.code().to_owned());
    }
    crate::chat::record(&state, &ctx, rec, &crate::telemetry::Trace::default()).await?;
    result
}

async fn search_steps(
    state: &AppState,
    p: &Principal,
    collection: &str,
    body: Result<Bytes, BytesRejection>,
    rec: &mut rempart_audit::AuditRecord,
) -> Result<Json<Value>, ApiError> {
    check_collection(collection)?;
    let b: SearchBody = crate::parse_body(body, state.config.server.max_body_bytes)?;
    rec.purpose.clone_from(&b.purpose);
    let k = b.k.unwrap_or(SEARCH_K);
    if k == 0 || k > MAX_K {
        return Err(ApiError::BadRequest {
            message: format!("`k` must be between 1 and {MAX_K}"),
            param: Some("k".into()),
        });
    }
    let principal = principal_of(p, b.purpose.as_deref());
    let r = state
        .retriever
        .search(&principal, &[collection.to_owned()], &b.query, k)
        .await
        .map_err(api_error)?;
    rec.retrieved_chunks = r.hits.iter().map(|h| h.chunk.clone()).collect();
    rec.denied_chunks = u32::try_from(r.denied).unwrap_or(u32::MAX);
    if r.hits.is_empty() {
        rec.outcome = rempart_audit::Outcome::RefusedNoEvidence;
    }
    Ok(Json(json!({
        "object": "list",
        "data": r.hits,
        "denied": r.denied,
        "refused": r.hits.is_empty(),
    })))
}
