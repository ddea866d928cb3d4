//! The placeholder grammar: what Rempart writes, and what it reads back.
//!
//! # Written (canonical) form
//!
//! `[[` TYPE `_` N `]]`, e.g. `[[PERSON_1]]`, `[[NATIONAL_ID_12]]`,
//! `[[DATE_OF_BIRTH_3]]`: TYPE is the wire name of the [`EntityType`], N a
//! decimal number from 1 to 999 999 without leading zero, numbered per type
//! within one [`Mapping`](super::Mapping).
//!
//! Why this shape: ASCII only (no tokenizer surprise, no JSON or HTML
//! escaping: `<PERSON_1>` is HTML to a Markdown renderer and `\u003c` to
//! some JSON encoders); double square brackets are rare in prose and are
//! copied verbatim by instruction-tuned models; an ALL-CAPS type keeps the
//! sentence readable for the model (it knows it is a person) without
//! leaking anything.
//!
//! # Read (accepted) forms
//!
//! Models sometimes change case or spacing. A token is accepted when it is:
//!
//! 1. `[[`, then 0 to 2 ASCII spaces;
//! 2. the type name in ASCII letters of **any case**, where a single
//!    separator (`_`, `-` or one space) may follow any letter and
//!    separators are ignored (`PERSON`, `person`, `Date of Birth`,
//!    `credit-card`, `CREDITCARD`);
//! 3. optionally one separator (`_`, `-`, space), then the number: 1 to 6
//!    digits, no leading zero;
//! 4. 0 to 2 ASCII spaces, then `]]`.
//!
//! So `[[person_1]]`, `[[ PERSON_1 ]]`, `[[Person 1]]`, `[[PERSON-1]]` and
//! `[[PERSON1]]` all read as `[[PERSON_1]]`. Not accepted: single or other
//! brackets (`[PERSON_1]`, `<PERSON_1>`, `⟦PERSON_1⟧`), `PERSON_01`, three
//! spaces, a tab or newline inside, unknown type names. An accepted token is
//! only ever replaced when the mapping issued that exact (type, number);
//! anything else stays as it is.
//!
//! The longest accepted token is [`MAX_PLACEHOLDER_LEN`] bytes; that bounds
//! what the streaming re-identifier ever holds back.

use std::fmt;

use crate::entity::EntityType;

/// Largest placeholder number per type in one mapping.
pub const MAX_PLACEHOLDER_NUMBER: u32 = 999_999;

/// Longest accepted placeholder token, in bytes (all accepted tokens are
/// ASCII): `[[` + 2 spaces + 11 letters each followed by a separator + 6
/// digits + 2 spaces + `]]`.
pub const MAX_PLACEHOLDER_LEN: usize = 2 + 2 + 2 * LONGEST_NAME + 6 + 2 + 2;

const MAX_DIGITS: usize = 6;
const MAX_SPACES: usize = 2;

/// Type names without separators, indexed like [`EntityType::ALL`].
const COMPACT_NAMES: [&[u8]; 10] = [
    b"PERSON",
    b"EMAIL",
    b"PHONE",
    b"IBAN",
    b"CREDITCARD",
    b"NATIONALID",
    b"ADDRESS",
    b"DATEOFBIRTH",
    b"IPADDRESS",
    b"PASSPORT",
];
const LONGEST_NAME: usize = 11;

/// Index of a type in [`EntityType::ALL`] (and in per-type tables).
pub(crate) fn type_index(kind: EntityType) -> usize {
    match kind {
        EntityType::Person => 0,
        EntityType::Email => 1,
        EntityType::Phone => 2,
        EntityType::Iban => 3,
        EntityType::CreditCard => 4,
        EntityType::NationalId => 5,
        EntityType::Address => 6,
        EntityType::DateOfBirth => 7,
        EntityType::IpAddress => 8,
        EntityType::Passport => 9,
    }
}

/// A placeholder: a type and a number. `Display` writes the canonical form
/// (`[[PERSON_1]]`); it never contains a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Placeholder {
    /// The entity type.
    pub kind: EntityType,
    /// The number, from 1, per type within a mapping.
    pub number: u32,
}

impl Placeholder {
    /// Reads `s` as exactly one placeholder token in any accepted form
    /// (see the module documentation), or `None`.
    pub fn parse(s: &str) -> Option<Placeholder> {
        match scan(s.as_bytes()) {
            Scan::Match { len, placeholder } if len == s.len() => Some(placeholder),
            _ => None,
        }
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[[{}_{}]]", self.kind.as_str(), self.number)
    }
}

/// Outcome of reading a token at the start of a byte slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// A token of `len` bytes starts here.
    Match {
        /// Its length in bytes.
        len: usize,
        /// What it names.
        placeholder: Placeholder,
    },
    /// No token starts here, whatever follows.
    NoMatch,
    /// The input ends inside what could still become a token.
    NeedMore,
}

/// Reads a token at the start of `s`.
///
/// Prefix-monotone, which the streaming re-identifier relies on: if the
/// answer for `s` is `Match` or `NoMatch`, it is the same for every
/// extension of `s`; `NeedMore` is only returned when all of `s` was read
/// (and then `s.len() < MAX_PLACEHOLDER_LEN`).
pub(crate) fn scan(s: &[u8]) -> Scan {
    let mut i = 0;
    // `[[`
    for _ in 0..2 {
        match s.get(i) {
            None => return Scan::NeedMore,
            Some(b'[') => i += 1,
            Some(_) => return Scan::NoMatch,
        }
    }
    // Leading spaces.
    let mut spaces = 0;
    loop {
        match s.get(i) {
            None => return Scan::NeedMore,
            Some(b' ') if spaces < MAX_SPACES => {
                spaces += 1;
                i += 1;
            }
            Some(_) => break,
        }
    }
    // Type name: letters, each optionally followed by one separator.
    let mut name = [0u8; LONGEST_NAME];
    let mut name_len = 0;
    loop {
        let c = match s.get(i) {
            None => return Scan::NeedMore,
            Some(&c) => c,
        };
        if c.is_ascii_alphabetic() {
            if name_len == LONGEST_NAME {
                return Scan::NoMatch;
            }
            name[name_len] = c.to_ascii_uppercase();
            name_len += 1;
            if !COMPACT_NAMES
                .iter()
                .any(|n| n.starts_with(&name[..name_len]))
            {
                return Scan::NoMatch;
            }
            i += 1;
            // One optional separator after a letter.
            match s.get(i) {
                None => return Scan::NeedMore,
                Some(b'_' | b'-' | b' ') => i += 1,
                Some(_) => {}
            }
        } else if c.is_ascii_digit() && name_len > 0 {
            break;
        } else {
            return Scan::NoMatch;
        }
    }
    let Some(kind_idx) = COMPACT_NAMES.iter().position(|n| *n == &name[..name_len]) else {
        return Scan::NoMatch;
    };
    // Number.
    if s[i] == b'0' {
        return Scan::NoMatch;
    }
    let mut number: u32 = 0;
    let mut digits = 0;
    loop {
        match s.get(i) {
            None => return Scan::NeedMore,
            Some(&c) if c.is_ascii_digit() => {
                if digits == MAX_DIGITS {
                    return Scan::NoMatch;
                }
                number = number * 10 + u32::from(c - b'0');
                digits += 1;
                i += 1;
            }
            Some(_) => break,
        }
    }
    // Trailing spaces.
    let mut spaces = 0;
    loop {
        match s.get(i) {
            None => return Scan::NeedMore,
            Some(b' ') if spaces < MAX_SPACES => {
                spaces += 1;
                i += 1;
            }
            Some(_) => break,
        }
    }
    // `]]`
    for _ in 0..2 {
        match s.get(i) {
            None => return Scan::NeedMore,
            Some(b']') => i += 1,
            Some(_) => return Scan::NoMatch,
        }
    }
    debug_assert!(i <= MAX_PLACEHOLDER_LEN);
    Scan::Match {
        len: i,
        placeholder: Placeholder {
            kind: EntityType::ALL[kind_idx],
            number,
        },
    }
}

/// Calls `f(start, len, placeholder)` for each token of `text`, left to
/// right; when `f` returns `true` the scan goes on after the token, else
/// at the next byte. Stops at the first position where the text ends inside
/// a possible token, and returns it.
pub(crate) fn for_each_token(
    text: &str,
    mut f: impl FnMut(usize, usize, Placeholder) -> bool,
) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'[') {
        let p = i + off;
        match scan(&bytes[p..]) {
            Scan::Match { len, placeholder } => {
                if f(p, len, placeholder) {
                    i = p + len;
                } else {
                    i = p + 1;
                }
            }
            Scan::NoMatch => i = p + 1,
            Scan::NeedMore => return Some(p),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: EntityType, number: u32) -> Option<Placeholder> {
        Some(Placeholder { kind, number })
    }

    #[test]
    fn canonical_forms_round_trip() {
        for kind in EntityType::ALL {
            for number in [1, 9, 10, 4711, MAX_PLACEHOLDER_NUMBER] {
                let ph = Placeholder { kind, number };
                let s = ph.to_string();
                assert_eq!(Placeholder::parse(&s), Some(ph), "{s}");
                assert!(s.len() <= MAX_PLACEHOLDER_LEN);
            }
        }
    }

    #[test]
    fn accepted_variants() {
        use EntityType::*;
        for (s, want) in [
            ("[[person_1]]", p(Person, 1)),
            ("[[ PERSON_1 ]]", p(Person, 1)),
            ("[[  PERSON_1  ]]", p(Person, 1)),
            ("[[Person 1]]", p(Person, 1)),
            ("[[PERSON-1]]", p(Person, 1)),
            ("[[PERSON1]]", p(Person, 1)),
            ("[[Date of Birth 3]]", p(DateOfBirth, 3)),
            ("[[credit-card_12]]", p(CreditCard, 12)),
            ("[[NATIONALID_2]]", p(NationalId, 2)),
            ("[[ip_address_7]]", p(IpAddress, 7)),
            ("[[ADDRESS_7]]", p(Address, 7)),
        ] {
            assert_eq!(Placeholder::parse(s), want, "{s}");
        }
    }

    #[test]
    fn rejected_variants() {
        for s in [
            "[PERSON_1]",
            "<PERSON_1>",
            "⟦PERSON_1⟧",
            "[[PERSON_01]]",
            "[[PERSON_0]]",
            "[[PERSON_]]",
            "[[PERSON]]",
            "[[   PERSON_1]]",
            "[[PERSON_1   ]]",
            "[[\tPERSON_1]]",
            "[[PERSON__1]]",
            "[[PERSONS_1]]",
            "[[FOO_1]]",
            "[[PERSON_1234567]]",
            "[[PERSON_1] ]",
            "[[_PERSON_1]]",
        ] {
            assert_eq!(Placeholder::parse(s), None, "{s}");
        }
    }

    #[test]
    fn scan_needs_more_only_on_a_possible_prefix() {
        assert_eq!(scan(b"["), Scan::NeedMore);
        assert_eq!(scan(b"[[ pers"), Scan::NeedMore);
        assert_eq!(scan(b"[[PERSON_12"), Scan::NeedMore);
        assert_eq!(scan(b"[[PERSON_12 ]"), Scan::NeedMore);
        assert_eq!(scan(b"[[Hello"), Scan::NoMatch);
        assert_eq!(scan(b"[x"), Scan::NoMatch);
        assert_eq!(scan(b"[[PERSON_1]"), Scan::NeedMore);
    }

    #[test]
    fn longest_token_is_bounded() {
        let s = "[[  D_A_T_E_O_F_B_I_R_T_H_999999  ]]";
        assert_eq!(Placeholder::parse(s), p(EntityType::DateOfBirth, 999_999));
        assert_eq!(s.len(), MAX_PLACEHOLDER_LEN);
    }
}
