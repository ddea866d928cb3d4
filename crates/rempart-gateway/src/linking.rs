//! The data subjects an ingested document is about, found by the
//! personal-data scan and linked for erasure.
//!
//! At ingestion (`POST /v1/collections/{c}/documents` and `rempart ingest`)
//! the extracted text of every file is scanned with the request path's
//! detector. The identifiers the subject registry indexes exactly — e-mail
//! addresses, phone numbers, IBANs, national identifiers — are looked up
//! among the tenant's registered subjects (deduplicated, blind-indexed and
//! looked up together: see [`Registry::find_many`]), and every live subject
//! found is linked to the document, beside the subjects the caller names.
//! Erasing one of them then deletes the document, its chunks and its
//! wrapped data key (crypto-shredding).
//!
//! Names are not looked up: many people share a name, and a link by name
//! would delete a namesake's documents at an erasure. Card and passport
//! numbers, addresses and dates of birth are not registry identifiers.
//! A subject registered *after* a document was ingested is linked when the
//! same content is ingested again (see `Collections::link_subjects`).
//!
//! The values found never leave this module: no log line, error or receipt
//! holds them; callers get counts by type and subject ids.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rempart_pii::EntityType;
use rempart_store::registry::{Lookup, Registry, RegistryError};
use uuid::Uuid;

use crate::collections::SourceFile;
use crate::inspect::{Inspector, guarded_detect};

/// What the scan of a request's files found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Personal-data entities found, by type, over all files.
    pub counts: BTreeMap<EntityType, u32>,
    /// Whether a file carries special-category cues (GDPR Art. 9).
    pub special_category: bool,
    /// Per file (in order): the registered, live subjects its text
    /// identifies (empty when linking is off).
    pub subjects: Vec<Vec<Uuid>>,
}

impl Scan {
    /// Counts keyed by wire name, for the audit record.
    pub fn counts_by_name(&self) -> BTreeMap<String, u32> {
        self.counts
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), *v))
            .collect()
    }

    /// `none`, `personal` or `special_category` (the audit record's words).
    pub fn sensitivity(&self) -> &'static str {
        if self.special_category {
            "special_category"
        } else if self.counts.is_empty() {
            "none"
        } else {
            "personal"
        }
    }
}

/// Why a scan failed (never a value found in the text).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The detector failed: the document is not ingested, since the
    /// subjects it is about could not be linked (fail-closed).
    #[error("personal-data scan: {0}")]
    Detector(String),
    /// The registry lookup, or storing the document, failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The registry lookup for a detected value, for the types the registry
/// indexes exactly.
fn lookup_of(kind: EntityType, value: &str) -> Option<Lookup> {
    let v = value.to_owned();
    match kind {
        EntityType::Email => Some(Lookup::Email(v)),
        EntityType::Phone => Some(Lookup::Phone(v)),
        EntityType::Iban => Some(Lookup::Iban(v)),
        EntityType::NationalId => Some(Lookup::NationalId(v)),
        _ => None,
    }
}

/// The text of a file as the scan reads it: its blocks, in reading order.
fn text_of(file: &SourceFile) -> String {
    let mut s = String::new();
    for b in &file.document.blocks {
        if !s.is_empty() {
            s.push_str("\n\n");
        }
        s.push_str(&b.text);
    }
    s
}

/// Scan `files` for personal data and, when `link` is set, find the
/// tenant's registered subjects their identifiers name. The detection runs
/// on a blocking thread (a large document is CPU work); the lookups are
/// one batched query for all distinct values of all files.
pub async fn scan(
    registry: &Registry,
    inspector: Arc<dyn Inspector>,
    tenant: &str,
    files: &[SourceFile],
    link: bool,
) -> Result<Scan, ScanError> {
    let texts: Vec<String> = files.iter().map(text_of).collect();
    let detected = tokio::task::spawn_blocking(move || {
        let mut out = Vec::with_capacity(texts.len());
        for text in &texts {
            let (entities, special) = guarded_detect(inspector.as_ref(), text)?;
            let values: Vec<(EntityType, String)> = entities
                .iter()
                .map(|e| (e.kind, text.get(e.start..e.end).unwrap_or("").to_owned()))
                .collect();
            out.push((values, special));
        }
        Ok::<_, String>(out)
    })
    .await
    .map_err(|_| ScanError::Detector("the personal-data detector failed".into()))?
    .map_err(ScanError::Detector)?;

    let mut scan = Scan {
        subjects: vec![Vec::new(); files.len()],
        ..Scan::default()
    };
    // Distinct lookups over all files, and the files behind each.
    let mut lookups: Vec<Lookup> = Vec::new();
    let mut files_of: Vec<Vec<usize>> = Vec::new();
    let mut seen: HashMap<(EntityType, String), usize> = HashMap::new();
    for (f, (values, special)) in detected.into_iter().enumerate() {
        scan.special_category |= special;
        for (kind, value) in values {
            *scan.counts.entry(kind).or_insert(0) += 1;
            if !link || value.is_empty() {
                continue;
            }
            let Some(lookup) = lookup_of(kind, &value) else {
                continue;
            };
            let at = *seen.entry((kind, value)).or_insert_with(|| {
                lookups.push(lookup);
                files_of.push(Vec::new());
                lookups.len() - 1
            });
            if !files_of[at].contains(&f) {
                files_of[at].push(f);
            }
        }
    }
    if lookups.is_empty() {
        return Ok(scan);
    }
    let found = registry.find_many(tenant, &lookups).await?;
    for (at, ids) in found.into_iter().enumerate() {
        for &f in &files_of[at] {
            for id in &ids {
                if !scan.subjects[f].contains(id) {
                    scan.subjects[f].push(*id);
                }
            }
        }
    }
    for s in &mut scan.subjects {
        s.sort();
    }
    Ok(scan)
}

/// The subjects to link to a file: those the caller named, then those the
/// scan found, without repeats.
pub fn subjects_for(named: &[Uuid], found: &[Uuid]) -> Vec<Uuid> {
    let mut all = named.to_vec();
    for id in found {
        if !all.contains(id) {
            all.push(*id);
        }
    }
    all
}
