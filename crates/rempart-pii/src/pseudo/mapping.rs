//! The mapping value ↔ placeholder of one conversation (or tenant).

use std::collections::HashMap;
use std::fmt;

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::Error;
use super::placeholder::{MAX_PLACEHOLDER_NUMBER, Placeholder, type_index};
use crate::entity::{Entity, EntityType};

/// Shortest value (in characters) that [`Mapping::find_known`] looks for.
pub const MIN_KNOWN_VALUE_CHARS: usize = 3;

/// Value ↔ placeholder, for one conversation or one tenant.
///
/// - The same value always gets the same placeholder, after a per-type
///   normalisation (see [`normalise`]): `Alice  MARTIN` and `alice martin`
///   are one person, `FR76 3000 …` and `fr7630000…` one IBAN.
/// - Re-identification restores, for a placeholder, the form in which the
///   value was **first** seen.
/// - Serialisable (serde) so the gateway can persist it — encrypted: the
///   serialised form contains the values in clear. Shape (JSON):
///   `{"version":1,"entries":[{"kind":"PERSON","number":1,"value":"…"},
///   {"kind":"PERSON","number":2,"value":"[[PERSON_1]]","literal":true}]}`;
///   loading checks that numbers run 1, 2, 3… per type and that no value
///   appears twice.
/// - `Debug` and `Display` print counts, never values. Values are zeroized
///   when the mapping is dropped (best effort: copies left by earlier
///   `String` reallocations or by the caller are not reached).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(into = "MappingRepr", try_from = "MappingRepr")]
pub struct Mapping {
    /// Issued entries, per type, in number order: `by_type[t][n - 1]`.
    by_type: [Vec<Entry>; 10],
    /// (type, literal, normalised key) → number.
    index: HashMap<Key, u32>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    kind: EntityType,
    /// `true` for a placeholder-looking token found in the user's text and
    /// itself pseudonymised (kept exact, not normalised).
    literal: bool,
    norm: String,
}

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    /// The value as first seen (restored by re-identification).
    value: String,
    /// `true` for an escaped placeholder-looking token of the user's text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    literal: bool,
}

/// What is persisted: entries per type, in number order.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingRepr {
    version: u32,
    entries: Vec<ReprEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReprEntry {
    kind: EntityType,
    number: u32,
    value: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    literal: bool,
}

const REPR_VERSION: u32 = 1;

// === impl Mapping ===

impl Mapping {
    /// An empty mapping.
    pub fn new() -> Mapping {
        Mapping::default()
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.by_type.iter().map(Vec::len).sum()
    }

    /// `true` when no value is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of values held, per type (types with none are left out).
    pub fn counts(&self) -> Vec<(EntityType, usize)> {
        EntityType::ALL
            .iter()
            .map(|&k| (k, self.by_type[type_index(k)].len()))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    /// The placeholder already issued for `value` of type `kind`, if any
    /// (after normalisation).
    pub fn placeholder_of(&self, kind: EntityType, value: &str) -> Option<Placeholder> {
        let key = Key {
            kind,
            literal: false,
            norm: normalise(kind, value),
        };
        self.index
            .get(&key)
            .map(|&number| Placeholder { kind, number })
    }

    /// The value a placeholder stands for, if this mapping issued it.
    pub fn value_of(&self, placeholder: Placeholder) -> Option<&str> {
        let n = usize::try_from(placeholder.number).ok()?.checked_sub(1)?;
        self.by_type[type_index(placeholder.kind)]
            .get(n)
            .map(|e| e.value.as_str())
    }

    /// Entities for the occurrences in `text` of values this mapping
    /// already holds, so a value seen once is caught again even where the
    /// detector misses it (e.g. in the assistant history the client sends
    /// back). Pass them to [`pseudonymise`](super::pseudonymise) together
    /// with the detector's (overlaps are merged there).
    ///
    /// Matching is exact up to ASCII case, on word boundaries (a value is
    /// not found inside a longer word), for values of at least
    /// [`MIN_KNOWN_VALUE_CHARS`] characters. Other formatting variants
    /// (`FR76 3000…` vs `FR763000…`) are left to the detector.
    pub fn find_known(&self, text: &str) -> Result<Vec<Entity>, Error> {
        let mut kinds = Vec::new();
        let mut patterns = Vec::new();
        for kind in EntityType::ALL {
            for e in &self.by_type[type_index(kind)] {
                if !e.literal && e.value.chars().count() >= MIN_KNOWN_VALUE_CHARS {
                    kinds.push(kind);
                    patterns.push(e.value.as_str());
                }
            }
        }
        if patterns.is_empty() {
            return Ok(Vec::new());
        }
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&patterns)
            .map_err(|_| Error::KnownValuesTooLarge)?;
        let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        let mut found = Vec::new();
        for m in ac.find_overlapping_iter(text) {
            let (start, end) = (m.start(), m.end());
            // A match of a value that starts (ends) with a word character
            // must not continue a word of the text.
            let value = &text[start..end];
            if (is_word(value.chars().next()) && is_word(text[..start].chars().next_back()))
                || (is_word(value.chars().next_back()) && is_word(text[end..].chars().next()))
            {
                continue;
            }
            found.push(Entity {
                kind: kinds[m.pattern().as_usize()],
                subtype: None,
                start,
                end,
                score: 1.0,
            });
        }
        Ok(found)
    }

    /// The placeholder for `value`, issuing a new one if needed.
    pub(crate) fn issue(
        &mut self,
        kind: EntityType,
        value: &str,
        literal: bool,
    ) -> Result<Placeholder, Error> {
        let norm = if literal {
            value.to_owned()
        } else {
            normalise(kind, value)
        };
        let key = Key {
            kind,
            literal,
            norm,
        };
        if let Some(&number) = self.index.get(&key) {
            return Ok(Placeholder { kind, number });
        }
        let slot = &mut self.by_type[type_index(kind)];
        let number = u32::try_from(slot.len() + 1)
            .ok()
            .filter(|&n| n <= MAX_PLACEHOLDER_NUMBER)
            .ok_or(Error::PlaceholdersExhausted { kind })?;
        slot.push(Entry {
            value: value.to_owned(),
            literal,
        });
        self.index.insert(key, number);
        Ok(Placeholder { kind, number })
    }
}

impl AsRef<Mapping> for Mapping {
    fn as_ref(&self) -> &Mapping {
        self
    }
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (kind, n) in self.counts() {
            m.entry(&kind.as_str(), &n);
        }
        m.finish()?;
        f.write_str(" (values redacted)")
    }
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pseudonymisation mapping of {} values", self.len())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        for slot in &mut self.by_type {
            for e in slot.iter_mut() {
                e.value.zeroize();
            }
        }
        for (mut k, _) in self.index.drain() {
            k.norm.zeroize();
        }
    }
}

impl From<Mapping> for MappingRepr {
    fn from(m: Mapping) -> MappingRepr {
        let mut entries = Vec::with_capacity(m.len());
        for kind in EntityType::ALL {
            for (i, e) in m.by_type[type_index(kind)].iter().enumerate() {
                entries.push(ReprEntry {
                    kind,
                    number: i as u32 + 1,
                    value: e.value.clone(),
                    literal: e.literal,
                });
            }
        }
        MappingRepr {
            version: REPR_VERSION,
            entries,
        }
    }
}

impl TryFrom<MappingRepr> for Mapping {
    type Error = Error;

    fn try_from(repr: MappingRepr) -> Result<Mapping, Error> {
        if repr.version != REPR_VERSION {
            return Err(Error::InvalidMapping {
                reason: "unsupported version",
            });
        }
        let mut m = Mapping::new();
        for mut e in repr.entries {
            let expected = m.by_type[type_index(e.kind)].len() + 1;
            if e.number as usize != expected {
                e.value.zeroize();
                return Err(Error::InvalidMapping {
                    reason: "placeholder numbers are not 1, 2, 3… per type",
                });
            }
            let issued = m.issue(e.kind, &e.value, e.literal);
            e.value.zeroize();
            if issued?.number != e.number {
                return Err(Error::InvalidMapping {
                    reason: "two entries for one value",
                });
            }
        }
        Ok(m)
    }
}

impl Drop for ReprEntry {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

/// The normalised form under which a value of type `kind` is looked up
/// (never shown; used for "same value → same placeholder").
///
/// | type | normalisation |
/// |---|---|
/// | `PERSON`, `ADDRESS`, `DATE_OF_BIRTH` | lower-case, whitespace runs → one space, trimmed |
/// | `EMAIL`, `IP_ADDRESS` | lower-case, whitespace removed |
/// | `IBAN`, `NATIONAL_ID`, `PASSPORT` | letters and digits only, upper-case |
/// | `PHONE` | digits only, a leading `+` (or `00`) kept as `+` |
/// | `CREDIT_CARD` | digits only |
///
/// A value whose normalised form would be empty is kept as is (so two
/// different punctuation-only values are not merged). No Unicode
/// normalisation (NFC) is applied.
pub fn normalise(kind: EntityType, value: &str) -> String {
    let norm = match kind {
        EntityType::Person | EntityType::Address | EntityType::DateOfBirth => {
            let mut s = String::with_capacity(value.len());
            for w in value.split_whitespace() {
                if !s.is_empty() {
                    s.push(' ');
                }
                s.extend(w.chars().flat_map(char::to_lowercase));
            }
            s
        }
        EntityType::Email | EntityType::IpAddress => value
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect(),
        EntityType::Iban | EntityType::NationalId | EntityType::Passport => value
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        EntityType::Phone => {
            let t = value.trim_start();
            let mut s = String::with_capacity(t.len());
            let digits_from = if t.starts_with('+') {
                s.push('+');
                1
            } else if t.starts_with("00") {
                s.push('+');
                2
            } else {
                0
            };
            s.extend(t[digits_from..].chars().filter(char::is_ascii_digit));
            if s == "+" { String::new() } else { s }
        }
        EntityType::CreditCard => value.chars().filter(char::is_ascii_digit).collect(),
    };
    if norm.is_empty() {
        // Marked so it cannot equal a normalised form.
        format!("\u{0}raw:{value}")
    } else {
        norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_per_type() {
        use EntityType::*;
        for (kind, a, b) in [
            (Person, "Alice  MARTIN", "alice martin"),
            (Person, " Élodie Durand\n", "ÉLODIE DURAND"),
            (Email, "Alice.Martin@Example.FR", "alice.martin@example.fr"),
            (
                Iban,
                "FR76 3000 6000 0112 3456 7890 189",
                "fr7630006000011234567890189",
            ),
            (Phone, "+33 6 12 34 56 78", "+33612345678"),
            (Phone, "0033 6-12-34-56-78", "+33 (6) 12 34 56 78"),
            (CreditCard, "4111 1111 1111 1111", "4111-1111-1111-1111"),
            (NationalId, "1 85 05 2A 123 456 78", "18505 2a12345678"),
        ] {
            assert_eq!(normalise(kind, a), normalise(kind, b), "{kind:?} {a}");
        }
        assert_ne!(normalise(Phone, "06 12"), normalise(Phone, "+6 12"));
        assert_ne!(
            normalise(NationalId, "12345678Z"),
            normalise(NationalId, "12345678A")
        );
        assert_ne!(normalise(Phone, "-"), normalise(Phone, "."));
    }

    #[test]
    fn same_value_same_placeholder() {
        let mut m = Mapping::new();
        let a = m.issue(EntityType::Person, "Alice Martin", false).unwrap();
        let b = m.issue(EntityType::Person, "ALICE  martin", false).unwrap();
        let c = m.issue(EntityType::Person, "Bob", false).unwrap();
        let d = m.issue(EntityType::Email, "Bob", false).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "[[PERSON_1]]");
        assert_eq!(c.to_string(), "[[PERSON_2]]");
        assert_eq!(d.to_string(), "[[EMAIL_1]]");
        assert_eq!(m.value_of(a), Some("Alice Martin"));
        assert_eq!(
            m.placeholder_of(EntityType::Person, "alice martin"),
            Some(a)
        );
        assert_eq!(
            m.value_of(Placeholder {
                kind: EntityType::Person,
                number: 3
            }),
            None
        );
        assert_eq!(
            m.value_of(Placeholder {
                kind: EntityType::Person,
                number: 0
            }),
            None
        );
    }

    #[test]
    fn debug_and_display_redact_values() {
        let mut m = Mapping::new();
        m.issue(EntityType::Person, "Alice Secretname", false)
            .unwrap();
        m.issue(EntityType::Iban, "FR7630006000011234567890189", false)
            .unwrap();
        for s in [format!("{m:?}"), format!("{m:#?}"), format!("{m}")] {
            assert!(!s.contains("Secretname"), "{s}");
            assert!(!s.contains("FR76"), "{s}");
            assert!(!s.contains("30006"), "{s}");
        }
        assert_eq!(
            format!("{m:?}"),
            r#"{"PERSON": 1, "IBAN": 1} (values redacted)"#
        );
    }

    #[test]
    fn finds_known_values_on_word_boundaries() {
        let mut m = Mapping::new();
        m.issue(EntityType::Person, "Ann Lee", false).unwrap();
        m.issue(EntityType::Email, "ann@x.fr", false).unwrap();
        m.issue(EntityType::Person, "Al", false).unwrap();
        m.issue(EntityType::Person, "[[PERSON_1]]", true).unwrap();
        let text = "ANN LEE wrote (ann@x.fr); Ann Leeds did not. Al too. [[PERSON_1]]";
        let found: Vec<_> = m
            .find_known(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, &text[e.start..e.end]))
            .collect();
        assert_eq!(
            found,
            [
                (EntityType::Person, "ANN LEE"),
                (EntityType::Email, "ann@x.fr")
            ]
        );
        assert!(Mapping::new().find_known(text).unwrap().is_empty());
    }

    #[test]
    fn serde_round_trip() {
        let mut m = Mapping::new();
        m.issue(EntityType::Person, "Alice", false).unwrap();
        m.issue(EntityType::Person, "Bob", false).unwrap();
        m.issue(EntityType::Person, "[[PERSON_1]]", true).unwrap();
        m.issue(EntityType::Phone, "+33 6 12 34 56 78", false)
            .unwrap();
        let json = serde_json::to_string(&m).unwrap();
        let back: Mapping = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        assert_eq!(
            back.placeholder_of(EntityType::Phone, "+33612345678"),
            Some(Placeholder {
                kind: EntityType::Phone,
                number: 1
            })
        );
        let mut back = back;
        assert_eq!(
            back.issue(EntityType::Person, "carol", false)
                .unwrap()
                .number,
            4
        );
    }

    #[test]
    fn bad_persisted_mappings_are_refused_without_values_in_the_error() {
        for json in [
            r#"{"version":1,"entries":[{"kind":"PERSON","number":2,"value":"Secretname"}]}"#,
            r#"{"version":1,"entries":[{"kind":"PERSON","number":1,"value":"Secretname"},{"kind":"PERSON","number":2,"value":"SECRETNAME"}]}"#,
            r#"{"version":9,"entries":[]}"#,
        ] {
            let err = serde_json::from_str::<Mapping>(json).unwrap_err();
            assert!(!err.to_string().contains("ecret"), "{err}");
        }
    }
}
