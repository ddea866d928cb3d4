//! The data-subject registry: personal data encrypted yet searchable, and
//! the GDPR rights of access (export) and erasure on top of the [`Store`].
//!
//! Each subject has its own data key, wrapped by the key provider (KMS) and
//! stored beside the subject; every value about the subject (profile,
//! conversation turns, pseudonym maps) is sealed under it with associated
//! data binding tenant, table, column and row. Lookups go through blind
//! indexes (keyed HMACs of normalised values, see `rempart_crypto::blind`)
//! whose keys derive from a per-tenant root key, itself wrapped by the KMS.
//! No plaintext personal data reaches the database.
//!
//! Erasure NULLs the wrapped data key (crypto-shredding: a copy of any of
//! the subject's ciphertexts no longer opens), deletes index rows, tokens,
//! conversations, turns and pseudonym maps, records a tombstone and
//! re-checks that nothing is left.
//!
//! Backups: a database backup taken *before* an erasure still holds the
//! subject's wrapped key, which the KEK can unwrap. Erasure reaches those
//! copies when the backup expires, or sooner by rotating the KEK, re-wrapping
//! live keys (`rewrap`) and retiring the old KEK version (OpenBao:
//! `min_decryption_version`): every wrapped key in older backups then stays
//! sealed for good. Schedule that rotation within the backup retention
//! period you promise data subjects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rempart_crypto::blind::{BlindIndex, FieldKind, NameTokens, normalize};
use rempart_crypto::{Aad, DataKey, KeyProvider, WrappedKey, open, seal};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{
    Conversation, ErasureCounts, Error as StoreError, NewSubject, PseudonymMap, Store, Turn,
};

/// Name of the tenant key that roots the blind indexes.
const INDEX_ROOT: &str = "blind-index-root";
/// Name of the tenant key for conversations not linked to a subject.
const CONVERSATION_KEY: &str = "conversation-key";
/// Name of the partial-name token index.
const NAME_TOKENS: &str = "name-tokens";

/// Errors of the registry. Never contain personal data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Encryption, key provider or normalisation failed.
    #[error(transparent)]
    Crypto(#[from] rempart_crypto::Error),
    /// No such subject for this tenant.
    #[error("no data subject {0} for this tenant")]
    NotFound(Uuid),
    /// The subject was erased.
    #[error("data subject {0} was erased")]
    Erased(Uuid),
    /// A request is invalid (names the field, never the value).
    #[error("{0}")]
    Invalid(String),
    /// A stored value does not decode (corruption or a foreign writer).
    #[error("stored {what} of subject {subject} does not decode")]
    Corrupt {
        /// What.
        what: &'static str,
        /// Whose.
        subject: Uuid,
    },
}

type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// What the registry knows about a data subject. Every field is optional;
/// at least one identifier is needed to find the subject again.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    /// Phone numbers (any format; indexed as E.164).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<String>,
    /// IBANs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ibans: Vec<String>,
    /// National identifiers (NIR, DNI, BSN, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub national_ids: Vec<String>,
    /// The caller's own reference (customer number...), indexed exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name.as_ref().map(|_| "<redacted>"))
            .field("emails", &self.emails.len())
            .field("phones", &self.phones.len())
            .field("ibans", &self.ibans.len())
            .field("national_ids", &self.national_ids.len())
            .field(
                "external_ref",
                &self.external_ref.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// How to find a subject. Deserialises from one key and its value, e.g.
/// `{"email": "…"}`, `{"national_id": "…"}`, `{"name": "dup"}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lookup {
    /// Exact e-mail (case-insensitive).
    Email(String),
    /// Exact phone number (any format).
    Phone(String),
    /// Exact IBAN (spacing-insensitive).
    Iban(String),
    /// Exact national identifier (punctuation-insensitive).
    NationalId(String),
    /// The caller's reference.
    ExternalRef(String),
    /// Partial name: every query word is a prefix (≥ 3 letters, or a whole
    /// word) of a word of the name; accents and case ignored.
    Name(String),
}

impl Lookup {
    /// The index this lookup uses.
    pub fn index_name(&self) -> &'static str {
        match self {
            Lookup::Email(_) => "email",
            Lookup::Phone(_) => "phone",
            Lookup::Iban(_) => "iban",
            Lookup::NationalId(_) => "national_id",
            Lookup::ExternalRef(_) => "external_ref",
            Lookup::Name(_) => NAME_TOKENS,
        }
    }
}

/// Registry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Region for phone numbers written without a country code.
    pub default_region: String,
    /// Width of equality indexes, in bits (see `rempart_crypto::blind::plan`).
    pub index_bits: u16,
    /// Width of name tokens, in bits.
    pub token_bits: u16,
    /// How long conversations are kept.
    pub conversation_ttl: time::Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            default_region: "FR".into(),
            // 32 bits: at 1M subjects a lookup expects 1M / 2^32 ≈ 0.0002
            // false positives (each is decrypted and dropped); see the
            // crate README for what a width leaks and the planner.
            index_bits: 32,
            token_bits: 32,
            conversation_ttl: time::Duration::days(30),
        }
    }
}

/// A subject found by a lookup, decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// Subject id.
    pub id: Uuid,
    /// Its profile.
    pub profile: Profile,
    /// When it was registered (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// Everything held about a subject (GDPR Art. 15), decrypted.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    /// Subject id.
    pub id: Uuid,
    /// Registered when.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// The profile.
    pub profile: Profile,
    /// Conversations linked to the subject, with their turns.
    pub conversations: Vec<ExportedConversation>,
    /// Pseudonym maps linked to the subject (placeholder → value), as
    /// stored by the gateway.
    pub pseudonym_maps: Vec<ExportedMap>,
    /// Audit records that name this subject (ids only: records hold no
    /// content).
    pub audit_records: Vec<String>,
}

/// A conversation in an export.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedConversation {
    /// Id.
    pub id: Uuid,
    /// Started.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Kept until.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Turns in order.
    pub turns: Vec<ExportedTurn>,
}

/// A turn in an export.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedTurn {
    /// Position.
    pub seq: i64,
    /// Role.
    pub role: String,
    /// Text.
    pub content: String,
}

/// A pseudonym map in an export.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedMap {
    /// Conversation.
    pub conversation_id: Uuid,
    /// The map (JSON as the gateway stored it).
    pub mapping: serde_json::Value,
}

/// What an erasure did, and the proof that nothing is left.
#[derive(Debug, Clone, Serialize)]
pub struct ErasureReceipt {
    /// Subject id.
    pub subject: Uuid,
    /// Tenant.
    pub tenant: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub erased_at: OffsetDateTime,
    /// Rows removed, per store.
    pub removed: ErasureCounts,
    /// Rows found for the subject after the erasure (all zero).
    pub remaining: ErasureCounts,
    /// Blind-index lookups of the subject's former identifiers that still
    /// returned the subject after the erasure (zero).
    pub lookup_hits_after: u64,
    /// The audit tombstone id, when the caller recorded one.
    pub audit_tombstone: Option<String>,
}

/// The registry. Cheap to share behind `Arc`.
pub struct Registry {
    pub(crate) store: Store,
    pub(crate) kms: Arc<KeyProvider>,
    settings: Settings,
    /// Unwrapped tenant keys (zeroised on drop), by (tenant, name).
    tenant_keys: Mutex<HashMap<(String, &'static str), Arc<DataKey>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("backend", &self.store.backend())
            .field("kms", &self.kms.describe().to_string())
            .finish_non_exhaustive()
    }
}

pub(crate) fn key_context(tenant: &str, what: &str, id: &str) -> Vec<u8> {
    let mut c = b"rempart/registry/v1".to_vec();
    for part in [tenant, what, id] {
        c.push(0);
        c.extend_from_slice(part.as_bytes());
    }
    c
}

impl Registry {
    /// A registry over `store`, with keys from `kms`.
    pub fn new(store: Store, kms: Arc<KeyProvider>, settings: Settings) -> Registry {
        Registry {
            store,
            kms,
            settings,
            tenant_keys: Mutex::new(HashMap::new()),
        }
    }

    /// A tenant key, unwrapped (created and stored wrapped on first use; a
    /// race between replicas is settled by the store: the first one wins).
    pub(crate) async fn tenant_key(
        &self,
        tenant: &str,
        name: &'static str,
    ) -> Result<Arc<DataKey>> {
        let cache_key = (tenant.to_owned(), name);
        if let Some(k) = self.tenant_keys.lock().expect("key cache").get(&cache_key) {
            return Ok(k.clone());
        }
        let context = key_context(tenant, "tenant-key", name);
        let stored = match self.store.get_tenant_key(tenant, name).await? {
            Some(k) => k,
            None => {
                let fresh = DataKey::generate();
                let wrapped = self.kms.wrap(&fresh, &context).await?;
                self.store
                    .put_tenant_key(tenant, name, wrapped.as_str(), OffsetDateTime::now_utc())
                    .await?;
                self.store
                    .get_tenant_key(tenant, name)
                    .await?
                    .ok_or_else(|| RegistryError::Invalid(format!("tenant key {name} vanished")))?
            }
        };
        let key = Arc::new(
            self.kms
                .unwrap(&WrappedKey::parse(&stored.wrapped)?, &context)
                .await?,
        );
        self.tenant_keys
            .lock()
            .expect("key cache")
            .insert(cache_key, key.clone());
        Ok(key)
    }

    fn field_kind(&self, index: &str) -> FieldKind {
        match index {
            "email" => FieldKind::Email,
            "phone" => FieldKind::Phone {
                default_region: self.settings.default_region.clone(),
            },
            "iban" => FieldKind::Iban,
            "national_id" => FieldKind::NationalId,
            _ => FieldKind::Exact,
        }
    }

    fn index(&self, root: &DataKey, tenant: &str, name: &str) -> Result<BlindIndex> {
        Ok(BlindIndex::new(
            root,
            tenant,
            name,
            vec![self.field_kind(name)],
            self.settings.index_bits,
        )?)
    }

    fn tokens(&self, root: &DataKey, tenant: &str) -> Result<NameTokens> {
        Ok(NameTokens::new(
            root,
            tenant,
            NAME_TOKENS,
            self.settings.token_bits,
        )?)
    }

    /// The (index, value) pairs of a profile.
    fn identifiers(profile: &Profile) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        for e in &profile.emails {
            out.push(("email", e.as_str()));
        }
        for p in &profile.phones {
            out.push(("phone", p.as_str()));
        }
        for i in &profile.ibans {
            out.push(("iban", i.as_str()));
        }
        for n in &profile.national_ids {
            out.push(("national_id", n.as_str()));
        }
        if let Some(r) = &profile.external_ref {
            out.push(("external_ref", r.as_str()));
        }
        out
    }

    /// The blind-index rows of a profile: (index name, value) per identifier.
    fn index_rows(
        &self,
        root: &DataKey,
        tenant: &str,
        p: &Profile,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        Self::identifiers(p)
            .into_iter()
            .map(|(name, value)| {
                let v = self
                    .index(root, tenant, name)?
                    .compute(&[value])
                    .map_err(|e| RegistryError::Invalid(format!("{name}: {e}")))?;
                Ok((name.to_owned(), v))
            })
            .collect()
    }

    /// Register a subject; returns its id. Values are validated and
    /// normalised for their index (an invalid IBAN or phone is refused,
    /// naming the field).
    pub async fn add(&self, tenant: &str, profile: &Profile) -> Result<Uuid> {
        let ids = Self::identifiers(profile);
        if ids.is_empty() && profile.name.is_none() {
            return Err(RegistryError::Invalid(
                "a subject needs at least one of name, emails, phones, ibans, national_ids, external_ref".into(),
            ));
        }
        let root = self.tenant_key(tenant, INDEX_ROOT).await?;
        let index = self.index_rows(&root, tenant, profile)?;
        let tokens = match &profile.name {
            Some(n) => self
                .tokens(&root, tenant)?
                .tokens(n)
                .map_err(|e| RegistryError::Invalid(format!("name: {e}")))?,
            None => Vec::new(),
        };
        let id = Uuid::now_v7();
        let row = id.to_string();
        let dek = DataKey::generate();
        let wrapped = self
            .kms
            .wrap(&dek, &key_context(tenant, "subject", &row))
            .await?;
        let json = Zeroizing::new(serde_json::to_vec(profile).expect("profile encodes"));
        let profile_ct = seal(
            &dek,
            &Aad {
                tenant,
                table: "subjects",
                column: "profile",
                row: &row,
            },
            &json,
        );
        self.store
            .insert_subject(
                tenant,
                &NewSubject {
                    id,
                    wrapped_key: wrapped.as_str().to_owned(),
                    profile: profile_ct,
                    index,
                    tokens,
                    created: OffsetDateTime::now_utc(),
                },
            )
            .await?;
        Ok(id)
    }

    /// A live subject's row and its data key, unwrapped (`NotFound`,
    /// `Erased` otherwise).
    async fn live(&self, tenant: &str, id: Uuid) -> Result<(crate::Subject, DataKey)> {
        let s = self
            .store
            .get_subject(tenant, id)
            .await?
            .ok_or(RegistryError::NotFound(id))?;
        let dek = self.unwrap_subject_key(tenant, &s).await?;
        Ok((s, dek))
    }

    /// Unwrap the data key of a subject row (`Erased` once shredded).
    async fn unwrap_subject_key(&self, tenant: &str, s: &crate::Subject) -> Result<DataKey> {
        let Some(wrapped) = &s.wrapped_key else {
            return Err(RegistryError::Erased(s.id));
        };
        Ok(self
            .kms
            .unwrap(
                &WrappedKey::parse(wrapped)?,
                &key_context(tenant, "subject", &s.id.to_string()),
            )
            .await?)
    }

    /// The profile of a subject row, decrypted with its data key.
    fn open_profile(tenant: &str, s: &crate::Subject, dek: &DataKey) -> Result<Found> {
        let id = s.id;
        let ct = s.profile.as_ref().ok_or(RegistryError::Erased(id))?;
        let row = id.to_string();
        let plain = open(
            dek,
            &Aad {
                tenant,
                table: "subjects",
                column: "profile",
                row: &row,
            },
            ct,
        )?;
        let profile = serde_json::from_slice(&plain).map_err(|_| RegistryError::Corrupt {
            what: "profile",
            subject: id,
        })?;
        Ok(Found {
            id,
            profile,
            created: s.created,
        })
    }

    /// A subject by id, decrypted.
    pub async fn get(&self, tenant: &str, id: Uuid) -> Result<Found> {
        let (s, dek) = self.live(tenant, id).await?;
        Self::open_profile(tenant, &s, &dek)
    }

    /// Find subjects. Candidates from the blind index are decrypted and
    /// checked, so a truncated-hash coincidence never comes back.
    pub async fn find(&self, tenant: &str, lookup: &Lookup) -> Result<Vec<Found>> {
        let root = self.tenant_key(tenant, INDEX_ROOT).await?;
        let candidates = match lookup {
            Lookup::Name(q) => {
                let tokens = self
                    .tokens(&root, tenant)?
                    .query(q)
                    .map_err(|e| RegistryError::Invalid(format!("name: {e}")))?;
                self.store.find_subjects_by_tokens(tenant, &tokens).await?
            }
            Lookup::Email(v)
            | Lookup::Phone(v)
            | Lookup::Iban(v)
            | Lookup::NationalId(v)
            | Lookup::ExternalRef(v) => {
                let name = lookup.index_name();
                let value = self
                    .index(&root, tenant, name)?
                    .compute(&[v])
                    .map_err(|e| RegistryError::Invalid(format!("{name}: {e}")))?;
                self.store
                    .find_subjects_by_index(tenant, name, &value)
                    .await?
            }
        };
        // Candidates come with their rows (one query, whatever their
        // number): only the key unwrap and the decryption remain per row.
        let mut out = Vec::with_capacity(candidates.len());
        for s in &candidates {
            let opened = self
                .unwrap_subject_key(tenant, s)
                .await
                .and_then(|dek| Self::open_profile(tenant, s, &dek));
            let found = match opened {
                Ok(f) => f,
                Err(RegistryError::Erased(_)) => continue,
                Err(e) => return Err(e),
            };
            if self.matches(&found.profile, lookup)? {
                out.push(found);
            }
        }
        Ok(out)
    }

    /// The live subjects each of `lookups` finds, by exact identifier (a
    /// name lookup is refused: a name is no identifier to link by). Values
    /// are blind-indexed and deduplicated, then looked up together (one
    /// query per [`crate::MAX_PAIRS_PER_QUERY`] distinct values); each
    /// candidate is decrypted once and checked against the value, so a
    /// truncated-hash coincidence never comes back. A value its index
    /// cannot normalise (an invalid IBAN, an unparsable phone number) was
    /// never registered either: it finds nobody.
    ///
    /// For linking what a document mentions to the registered subjects.
    pub async fn find_many(&self, tenant: &str, lookups: &[Lookup]) -> Result<Vec<Vec<Uuid>>> {
        let mut out = vec![Vec::new(); lookups.len()];
        if lookups.is_empty() {
            return Ok(out);
        }
        let root = self.tenant_key(tenant, INDEX_ROOT).await?;
        let mut indexes: HashMap<&'static str, BlindIndex> = HashMap::new();
        // Distinct (index, blind value) pairs, and the lookups behind each.
        let mut pairs: Vec<(&'static str, Vec<u8>)> = Vec::new();
        let mut behind: Vec<Vec<usize>> = Vec::new();
        let mut seen: HashMap<(&'static str, Vec<u8>), usize> = HashMap::new();
        for (i, lookup) in lookups.iter().enumerate() {
            let v = match lookup {
                Lookup::Email(v)
                | Lookup::Phone(v)
                | Lookup::Iban(v)
                | Lookup::NationalId(v)
                | Lookup::ExternalRef(v) => v,
                Lookup::Name(_) => {
                    return Err(RegistryError::Invalid(
                        "a name is not an identifier to find subjects by in bulk".into(),
                    ));
                }
            };
            let name = lookup.index_name();
            let index = match indexes.entry(name) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(self.index(&root, tenant, name)?)
                }
            };
            let Ok(value) = index.compute(&[v.as_str()]) else {
                continue;
            };
            let at = *seen.entry((name, value.clone())).or_insert_with(|| {
                pairs.push((name, value));
                behind.push(Vec::new());
                pairs.len() - 1
            });
            behind[at].push(i);
        }
        let refs: Vec<(&str, &[u8])> = pairs.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let matches = self.store.find_subjects_by_indexes(tenant, &refs).await?;
        // Rows come in subject order: each subject is opened once.
        let mut current: Option<(Uuid, Option<Profile>)> = None;
        for (at, s) in &matches {
            if current.as_ref().is_none_or(|(id, _)| *id != s.id) {
                let opened = self
                    .unwrap_subject_key(tenant, s)
                    .await
                    .and_then(|dek| Self::open_profile(tenant, s, &dek));
                let profile = match opened {
                    Ok(f) => Some(f.profile),
                    Err(RegistryError::Erased(_)) => None,
                    Err(e) => return Err(e),
                };
                current = Some((s.id, profile));
            }
            let Some((id, Some(profile))) = &current else {
                continue;
            };
            for &i in &behind[*at] {
                if self.matches(profile, &lookups[i])? && !out[i].contains(id) {
                    out[i].push(*id);
                }
            }
        }
        Ok(out)
    }

    /// Whether a decrypted profile really matches (drops coincidences of
    /// truncated hashes).
    fn matches(&self, p: &Profile, lookup: &Lookup) -> Result<bool> {
        let same = |kind: FieldKind, q: &str, values: &[String]| -> Result<bool> {
            let q = normalize(&kind, q)?;
            Ok(values
                .iter()
                .any(|v| normalize(&kind, v).is_ok_and(|v| v == q)))
        };
        match lookup {
            Lookup::Email(q) => same(FieldKind::Email, q, &p.emails),
            Lookup::Phone(q) => same(self.field_kind("phone"), q, &p.phones),
            Lookup::Iban(q) => same(FieldKind::Iban, q, &p.ibans),
            Lookup::NationalId(q) => same(FieldKind::NationalId, q, &p.national_ids),
            Lookup::ExternalRef(q) => {
                Ok(p.external_ref.as_deref().map(str::trim) == Some(q.trim()))
            }
            Lookup::Name(q) => {
                let Some(name) = &p.name else {
                    return Ok(false);
                };
                let name = normalize(&FieldKind::Name, name)?;
                let q = normalize(&FieldKind::Name, q)?;
                let words: Vec<&str> = name
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .collect();
                Ok(q.split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .all(|qw| words.iter().any(|w| w.starts_with(qw))))
            }
        }
    }

    // === Conversations ===

    /// The key and AAD row that seal a conversation's values: the subject's
    /// key when the conversation is linked to a live subject (so erasure
    /// shreds it), the tenant's conversation key otherwise.
    async fn conversation_key(&self, tenant: &str, subject: Option<Uuid>) -> Result<Arc<DataKey>> {
        match subject {
            Some(id) => Ok(Arc::new(self.live(tenant, id).await?.1)),
            None => self.tenant_key(tenant, CONVERSATION_KEY).await,
        }
    }

    /// Open (or continue) a conversation; links it to `subject` when given
    /// (which must be a registered, live subject of the tenant). Returns the
    /// conversation's pseudonym map (JSON) if one is stored.
    pub async fn open_conversation(
        &self,
        tenant: &str,
        id: Uuid,
        subject: Option<Uuid>,
    ) -> Result<(Conversation, Option<Zeroizing<Vec<u8>>>)> {
        let now = OffsetDateTime::now_utc();
        let conv = match self.store.get_conversation(tenant, id).await? {
            Some(c) => {
                if subject.is_some() && c.subject_id.is_some() && c.subject_id != subject {
                    return Err(RegistryError::Invalid(
                        "rempart.conversation_id: the conversation belongs to another data subject"
                            .into(),
                    ));
                }
                c
            }
            None => {
                if let Some(s) = subject {
                    // Must exist and be live.
                    self.live(tenant, s).await?;
                }
                let c = Conversation {
                    id,
                    subject_id: subject,
                    created: now,
                    expires_at: now + self.settings.conversation_ttl,
                };
                self.store.put_conversation(tenant, &c).await?;
                c
            }
        };
        let map = match self.store.get_pseudonym_map(tenant, id).await? {
            Some(m) => {
                let key = self.conversation_key(tenant, conv.subject_id).await?;
                let row = id.to_string();
                Some(open(
                    &key,
                    &Aad {
                        tenant,
                        table: "pseudonym_maps",
                        column: "mapping",
                        row: &row,
                    },
                    &m.mapping,
                )?)
            }
            None => None,
        };
        Ok((conv, map))
    }

    /// Store a conversation's pseudonym map (JSON) and append turns, each
    /// sealed; the retention deadline moves with the activity.
    pub async fn save_conversation(
        &self,
        tenant: &str,
        conv: &Conversation,
        mapping_json: &[u8],
        turns: &[(&str, &str)],
    ) -> Result<()> {
        let key = self.conversation_key(tenant, conv.subject_id).await?;
        let now = OffsetDateTime::now_utc();
        let row = conv.id.to_string();
        let mut conv = conv.clone();
        conv.expires_at = now + self.settings.conversation_ttl;
        self.store.put_conversation(tenant, &conv).await?;
        let mapping = seal(
            &key,
            &Aad {
                tenant,
                table: "pseudonym_maps",
                column: "mapping",
                row: &row,
            },
            mapping_json,
        );
        self.store
            .put_pseudonym_map(
                tenant,
                &PseudonymMap {
                    conversation_id: conv.id,
                    subject_id: conv.subject_id,
                    mapping,
                    updated: now,
                },
            )
            .await?;
        let mut seq = self
            .store
            .list_turns(tenant, conv.id)
            .await?
            .last()
            .map_or(0, |t| t.seq + 1);
        for (role, content) in turns {
            let turn_row = format!("{row}/{seq}");
            let content = seal(
                &key,
                &Aad {
                    tenant,
                    table: "turns",
                    column: "content",
                    row: &turn_row,
                },
                content.as_bytes(),
            );
            self.store
                .append_turn(
                    tenant,
                    &Turn {
                        conversation_id: conv.id,
                        seq,
                        role: (*role).to_owned(),
                        content,
                        created: now,
                    },
                )
                .await?;
            seq += 1;
        }
        Ok(())
    }

    async fn decrypt_turns(
        &self,
        tenant: &str,
        key: &DataKey,
        conv: Uuid,
    ) -> Result<Vec<ExportedTurn>> {
        let row = conv.to_string();
        let mut out = Vec::new();
        for t in self.store.list_turns(tenant, conv).await? {
            let turn_row = format!("{row}/{}", t.seq);
            let plain = open(
                key,
                &Aad {
                    tenant,
                    table: "turns",
                    column: "content",
                    row: &turn_row,
                },
                &t.content,
            )?;
            out.push(ExportedTurn {
                seq: t.seq,
                role: t.role,
                content: String::from_utf8_lossy(&plain).into_owned(),
            });
        }
        Ok(out)
    }

    // === GDPR rights ===

    /// Everything held about a subject, decrypted (Art. 15). `audit_records`
    /// are the ids of audit records naming the subject (the caller reads
    /// the audit log).
    pub async fn export(
        &self,
        tenant: &str,
        id: Uuid,
        audit_records: Vec<String>,
    ) -> Result<Export> {
        let (s, dek) = self.live(tenant, id).await?;
        let found = Self::open_profile(tenant, &s, &dek)?;
        let mut conversations = Vec::new();
        for c in self.store.list_conversations(tenant, id).await? {
            conversations.push(ExportedConversation {
                id: c.id,
                created: c.created,
                expires_at: c.expires_at,
                turns: self.decrypt_turns(tenant, &dek, c.id).await?,
            });
        }
        let mut pseudonym_maps = Vec::new();
        for m in self.store.list_pseudonym_maps(tenant, id).await? {
            let row = m.conversation_id.to_string();
            let plain = open(
                &dek,
                &Aad {
                    tenant,
                    table: "pseudonym_maps",
                    column: "mapping",
                    row: &row,
                },
                &m.mapping,
            )?;
            pseudonym_maps.push(ExportedMap {
                conversation_id: m.conversation_id,
                mapping: serde_json::from_slice(&plain).map_err(|_| RegistryError::Corrupt {
                    what: "pseudonym map",
                    subject: id,
                })?,
            });
        }
        Ok(Export {
            id,
            created: found.created,
            profile: found.profile,
            conversations,
            pseudonym_maps,
            audit_records,
        })
    }

    /// Erase a subject (Art. 17): crypto-shred its key and delete every row
    /// about it, then re-check — by count per table and by looking the
    /// subject's former identifiers up again — that nothing is left.
    /// The caller appends the audit tombstone and fills
    /// [`ErasureReceipt::audit_tombstone`].
    pub async fn erase(&self, tenant: &str, id: Uuid) -> Result<ErasureReceipt> {
        // Read the identifiers first: the re-check looks them up again.
        let before = match self.get(tenant, id).await {
            Ok(f) => Some(f.profile),
            Err(RegistryError::Erased(_)) => None,
            Err(e) => return Err(e),
        };
        let erased_at = OffsetDateTime::now_utc();
        let note =
            serde_json::json!({"subject": id, "erased_at": erased_at.unix_timestamp()}).to_string();
        let removed = self
            .store
            .erase_subject(tenant, id, erased_at, &note)
            .await?;
        let remaining = self.store.remaining(tenant, id).await?;
        let mut lookup_hits_after = 0;
        if let Some(p) = &before {
            let root = self.tenant_key(tenant, INDEX_ROOT).await?;
            for (name, value) in self.index_rows(&root, tenant, p)? {
                lookup_hits_after += self
                    .store
                    .find_by_index(tenant, &name, &value)
                    .await?
                    .iter()
                    .filter(|&&s| s == id)
                    .count() as u64;
            }
            if let Some(n) = &p.name {
                let tokens = self.tokens(&root, tenant)?.query(n)?;
                lookup_hits_after += self
                    .store
                    .find_by_tokens(tenant, &tokens)
                    .await?
                    .iter()
                    .filter(|&&s| s == id)
                    .count() as u64;
            }
        }
        Ok(ErasureReceipt {
            subject: id,
            tenant: tenant.to_owned(),
            erased_at,
            removed,
            remaining,
            lookup_hits_after,
            audit_tombstone: None,
        })
    }

    /// Retention sweep for one tenant: expired conversations and everything
    /// under them.
    pub async fn purge_expired(&self, tenant: &str) -> Result<crate::Purged> {
        Ok(self
            .store
            .purge_expired(tenant, OffsetDateTime::now_utc())
            .await?)
    }
}
