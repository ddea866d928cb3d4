//! Values the store takes and returns. Byte fields are opaque (ciphertexts,
//! blind-index values); their `Debug` shows lengths, never contents.

use std::fmt;

use time::OffsetDateTime;
use uuid::Uuid;

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
    /// Groups the key's caller belongs to (retrieval eligibility).
    pub groups: Vec<String>,
}

/// A tenant-wide key, wrapped by the KMS.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantKey {
    /// Name (e.g. `blind-index-root`).
    pub name: String,
    /// The wrapped key, as the KMS returned it.
    pub wrapped: String,
    /// When it was stored.
    pub created: OffsetDateTime,
}

impl fmt::Debug for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantKey")
            .field("name", &self.name)
            .field("wrapped", &"<redacted>")
            .field("created", &self.created)
            .finish()
    }
}

/// A subject to insert.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSubject {
    /// Id.
    pub id: Uuid,
    /// The subject's data key, wrapped by the KMS.
    pub wrapped_key: String,
    /// Profile ciphertext.
    pub profile: Vec<u8>,
    /// Blind-index rows: (index name, value). A compound index is a name
    /// like `name+dob`.
    pub index: Vec<(String, Vec<u8>)>,
    /// Blind name tokens for partial search.
    pub tokens: Vec<Vec<u8>>,
    /// Creation time.
    pub created: OffsetDateTime,
}

impl fmt::Debug for NewSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSubject")
            .field("id", &self.id)
            .field("wrapped_key", &"<redacted>")
            .field("profile_len", &self.profile.len())
            .field(
                "index",
                &self.index.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("tokens", &self.tokens.len())
            .field("created", &self.created)
            .finish()
    }
}

/// A stored subject.
#[derive(Clone, PartialEq, Eq)]
pub struct Subject {
    /// Id.
    pub id: Uuid,
    /// The wrapped data key; `None` once crypto-shredded.
    pub wrapped_key: Option<String>,
    /// Profile ciphertext; `None` once erased.
    pub profile: Option<Vec<u8>>,
    /// Creation time.
    pub created: OffsetDateTime,
    /// When it was erased.
    pub erased_at: Option<OffsetDateTime>,
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subject")
            .field("id", &self.id)
            .field(
                "wrapped_key",
                &self.wrapped_key.as_ref().map(|_| "<redacted>"),
            )
            .field("profile_len", &self.profile.as_ref().map(Vec::len))
            .field("created", &self.created)
            .field("erased_at", &self.erased_at)
            .finish()
    }
}

/// A conversation (its turns are stored separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Id.
    pub id: Uuid,
    /// The data subject it concerns, if known.
    pub subject_id: Option<Uuid>,
    /// Creation time.
    pub created: OffsetDateTime,
    /// End of retention: [`crate::Store::purge_expired`] deletes it after.
    pub expires_at: OffsetDateTime,
}

/// One turn of a conversation.
#[derive(Clone, PartialEq, Eq)]
pub struct Turn {
    /// Conversation.
    pub conversation_id: Uuid,
    /// Position in the conversation.
    pub seq: i64,
    /// `user`, `assistant`, `system`, `tool`.
    pub role: String,
    /// Content ciphertext.
    pub content: Vec<u8>,
    /// Creation time.
    pub created: OffsetDateTime,
}

impl fmt::Debug for Turn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Turn")
            .field("conversation_id", &self.conversation_id)
            .field("seq", &self.seq)
            .field("role", &self.role)
            .field("content_len", &self.content.len())
            .field("created", &self.created)
            .finish()
    }
}

/// The pseudonym map of a conversation (placeholder ↔ value, encrypted).
#[derive(Clone, PartialEq, Eq)]
pub struct PseudonymMap {
    /// Conversation.
    pub conversation_id: Uuid,
    /// The data subject, if known.
    pub subject_id: Option<Uuid>,
    /// Mapping ciphertext.
    pub mapping: Vec<u8>,
    /// Last update.
    pub updated: OffsetDateTime,
}

impl fmt::Debug for PseudonymMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PseudonymMap")
            .field("conversation_id", &self.conversation_id)
            .field("subject_id", &self.subject_id)
            .field("mapping_len", &self.mapping.len())
            .field("updated", &self.updated)
            .finish()
    }
}

/// A tombstone: an erasure carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// Subject.
    pub subject_id: Uuid,
    /// When.
    pub erased_at: OffsetDateTime,
    /// The receipt (JSON text; on PostgreSQL normalised by `jsonb`).
    pub receipt: String,
}

/// Rows removed by an erasure, or still present ([`crate::Store::remaining`]).
/// Serialised as an erasure receipt shows it (`data_keys`, `name_tokens`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasureCounts {
    /// Wrapped data keys NULLed (0 or 1).
    #[serde(rename = "data_keys")]
    pub wrapped_keys: u64,
    /// Profile ciphertexts deleted (0 or 1).
    pub profiles: u64,
    /// Blind-index rows.
    pub index_rows: u64,
    /// Name tokens.
    #[serde(rename = "name_tokens")]
    pub tokens: u64,
    /// Conversations linked to the subject.
    pub conversations: u64,
    /// Turns of those conversations.
    pub turns: u64,
    /// Pseudonym maps (of those conversations or linked to the subject).
    pub pseudonym_maps: u64,
    /// Documents of collections linked to the subject (deleted with their
    /// data keys).
    pub documents: u64,
    /// Chunks of those documents.
    pub chunks: u64,
    /// Their vectors in the PostgreSQL vector index (absent from the receipt
    /// when zero, e.g. on SQLite).
    #[serde(skip_serializing_if = "is_zero")]
    pub vectors: u64,
}

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ErasureCounts {
    /// Sum over all tables.
    pub fn total(&self) -> u64 {
        self.wrapped_keys
            + self.profiles
            + self.index_rows
            + self.tokens
            + self.conversations
            + self.turns
            + self.pseudonym_maps
            + self.documents
            + self.chunks
            + self.vectors
    }
}

/// Rows removed by [`crate::Store::purge_expired`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Conversations.
    pub conversations: u64,
    /// Their turns.
    pub turns: u64,
    /// Their pseudonym maps.
    pub pseudonym_maps: u64,
}

/// A document of a collection to insert, with its chunks (every text field
/// sealed by the caller).
#[derive(Clone, PartialEq, Eq)]
pub struct NewDocument {
    /// Id.
    pub id: Uuid,
    /// Collection name.
    pub collection: String,
    /// Keyed hash of the content (idempotent re-ingestion).
    pub content_key: Vec<u8>,
    /// Name ciphertext.
    pub name: Vec<u8>,
    /// Source format (`text`, `markdown`, ...).
    pub format: String,
    /// Pages (1 for text).
    pub pages: i64,
    /// Labels (JSON, not personal).
    pub labels: String,
    /// The document's data key, wrapped by the KMS.
    pub wrapped_key: String,
    /// Creation time.
    pub created: OffsetDateTime,
    /// Registered data subjects the document is about (must be live).
    pub subjects: Vec<Uuid>,
    /// Its chunks.
    pub chunks: Vec<ChunkRow>,
}

impl fmt::Debug for NewDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewDocument")
            .field("id", &self.id)
            .field("collection", &self.collection)
            .field("format", &self.format)
            .field("pages", &self.pages)
            .field("subjects", &self.subjects.len())
            .field("chunks", &self.chunks.len())
            .finish_non_exhaustive()
    }
}

/// A stored chunk (text and heading path sealed).
#[derive(Clone, PartialEq, Eq)]
pub struct ChunkRow {
    /// Position in the document.
    pub seq: i64,
    /// Text ciphertext.
    pub text: Vec<u8>,
    /// Heading path ciphertext.
    pub heading: Vec<u8>,
    /// First page.
    pub page_start: i64,
    /// Last page.
    pub page_end: i64,
    /// Start offset in the source.
    pub start: i64,
    /// End offset in the source.
    pub end: i64,
    /// Embedding ciphertext (model tag and vector), if embedded.
    pub embedding: Option<Vec<u8>>,
}

impl fmt::Debug for ChunkRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkRow")
            .field("seq", &self.seq)
            .field("text_len", &self.text.len())
            .field("pages", &(self.page_start, self.page_end))
            .finish_non_exhaustive()
    }
}

/// A stored document (no chunks).
#[derive(Clone, PartialEq, Eq)]
pub struct DocumentRow {
    /// Id.
    pub id: Uuid,
    /// Collection.
    pub collection: String,
    /// Name ciphertext.
    pub name: Vec<u8>,
    /// Source format.
    pub format: String,
    /// Pages.
    pub pages: i64,
    /// Labels (JSON).
    pub labels: String,
    /// The wrapped data key; `None` once shredded.
    pub wrapped_key: Option<String>,
    /// Creation time.
    pub created: OffsetDateTime,
    /// Number of chunks.
    pub chunks: i64,
}

impl fmt::Debug for DocumentRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocumentRow")
            .field("id", &self.id)
            .field("collection", &self.collection)
            .field("format", &self.format)
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

/// What [`crate::Store::insert_document`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    /// The document (the existing one when the content was already there).
    pub id: Uuid,
    /// False when the same content was already in the collection.
    pub created: bool,
    /// Its chunks.
    pub chunks: u64,
    /// The collection's version after the call (unchanged when nothing was
    /// written).
    pub version: i64,
}

/// What [`crate::Store::delete_document`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    /// Chunks deleted.
    pub chunks: u64,
    /// Their vectors deleted from the PostgreSQL vector index (0 without
    /// one).
    pub vectors: u64,
    /// The collection's version after the deletion.
    pub version: i64,
}

/// Dimension of the vectors in the PostgreSQL vector index: rempart-embed's
/// multilingual-e5-small (L2-normalised). Another size needs a migration.
pub const VECTOR_DIM: usize = 384;

/// How the HNSW scan of [`crate::Store::search_vectors`] runs (pgvector
/// settings, set per transaction with `SET LOCAL`). The defaults are what
/// the store's tests and `bench/store/pgvector.md` measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorTuning {
    /// `hnsw.ef_search`: candidates the scan keeps per round (at least k,
    /// at most 1,000). Default 400: on the 100k benchmark (documents as
    /// tight clusters, groups correlated with them) recall@10 against the
    /// exact answer was 0.964 unfiltered and 0.89 at 50 % with 100, 0.979 /
    /// 0.914 with 200; see `bench/store/pgvector.md`.
    pub ef_search: u32,
    /// `hnsw.iterative_scan`. Default [`IterativeScan::Relaxed`].
    pub iterative: IterativeScan,
    /// `hnsw.max_scan_tuples`: tuples an iterative scan may visit before it
    /// gives up. Default 20,000 (pgvector's).
    pub max_scan_tuples: u32,
    /// Scan the eligible chunks exactly instead of walking the graph when
    /// that is cheaper: when the eligible chunks (counted from the label
    /// sets of the collections) are fewer than the nodes a filtered walk
    /// would visit, ef_search · 2m / selectivity — the in-process HNSW's
    /// (and Lucene's) rule. A selective filter then costs a scan of its few
    /// rows, with exact recall. Default true; false always walks the graph
    /// (for measuring it).
    pub exact_when_cheaper: bool,
    /// When the index scan returns fewer hits than min(k, eligible) (it gave
    /// up at `max_scan_tuples`), answer with the exact scan instead. Default
    /// true.
    pub exact_fallback: bool,
    /// Count the denied candidates (see [`VectorSearch::denied`]): one more
    /// index scan of depth k (`hnsw.ef_search` = max(k, 40)) in the same
    /// transaction. Default true.
    pub count_denied: bool,
}

impl Default for VectorTuning {
    fn default() -> Self {
        VectorTuning {
            ef_search: 400,
            iterative: IterativeScan::Relaxed,
            max_scan_tuples: 20_000,
            exact_when_cheaper: true,
            exact_fallback: true,
            count_denied: true,
        }
    }
}

/// pgvector's `hnsw.iterative_scan` (0.8+): when the eligible rows among the
/// `ef_search` nearest are fewer than k, keep scanning the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IterativeScan {
    /// No iterative scan: the index hands over `ef_search` candidates and
    /// the filter keeps what it keeps — post-filtering, which collapses
    /// under a selective filter. For measuring only.
    Off,
    /// Results in exact distance order.
    Strict,
    /// Results possibly slightly out of order (the store re-sorts them);
    /// better recall for the same work.
    Relaxed,
}

impl IterativeScan {
    pub(crate) fn setting(self) -> &'static str {
        match self {
            IterativeScan::Off => "off",
            IterativeScan::Strict => "strict_order",
            IterativeScan::Relaxed => "relaxed_order",
        }
    }
}

/// A dense search with the caller's eligibility: who asks (groups), why
/// (purpose), in which collections. The tenant is the call's.
#[derive(Debug, Clone, Copy)]
pub struct VectorQuery<'a> {
    /// Collections searched (at least one).
    pub collections: &'a [&'a str],
    /// The query embedding ([`VECTOR_DIM`] finite values, not all zero).
    pub vector: &'a [f32],
    /// The principal's groups: a chunk whose document names groups is
    /// eligible when one of them is among these; a chunk with no groups is
    /// eligible for every principal of the tenant.
    pub groups: &'a [String],
    /// The declared purpose: a chunk whose document names purposes is
    /// eligible only when this is one of them (none declared → denied).
    pub purpose: Option<&'a str>,
    /// Hits wanted (1 to 1,000).
    pub k: usize,
    /// Scan settings.
    pub tuning: VectorTuning,
}

/// One eligible chunk found by [`crate::Store::search_vectors`].
#[derive(Debug, Clone, PartialEq)]
pub struct VectorHit {
    /// Its document.
    pub document_id: Uuid,
    /// Its position in the document.
    pub seq: u32,
    /// Its collection.
    pub collection: String,
    /// Cosine similarity to the query (1 − cosine distance).
    pub score: f32,
}

impl VectorHit {
    /// The chunk id as [`crate::collections::LoadedChunk::id`] spells it:
    /// `<document>/<seq>`.
    pub fn chunk_id(&self) -> String {
        format!("{}/{}", self.document_id, self.seq)
    }
}

/// What [`crate::Store::search_vectors`] found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VectorSearch {
    /// Eligible chunks, best first, at most k. Fewer than k only when fewer
    /// are eligible (or, without the exact fallback, when the scan gave up).
    pub hits: Vec<VectorHit>,
    /// Chunks of the searched collections the principal may see (from the
    /// label-set counts).
    pub eligible: u64,
    /// Of the k chunks of the searched collections nearest to the query
    /// regardless of eligibility (found by the HNSW index with a beam of
    /// max(k, 40), so approximately the k nearest), how many the principal
    /// may not see: what
    /// filtering an unfiltered top-k afterwards would have thrown away, for
    /// the audit record. `None` when not counted
    /// ([`VectorTuning::count_denied`] off). Not the number of rows the
    /// iterative scan skipped: PostgreSQL reports that only through
    /// `EXPLAIN ANALYZE`.
    pub denied: Option<u64>,
    /// True when an exact scan of the eligible chunks answered (cheaper than
    /// the walk, or the walk came back short), false when the HNSW scan did.
    pub exact: bool,
}
