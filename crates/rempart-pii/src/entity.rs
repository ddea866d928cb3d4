//! The detected entity.

use serde::{Deserialize, Serialize};

/// Type of personal data (the vocabulary of `rempart pii scan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityType {
    /// A natural person's name.
    Person,
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// An IBAN (mod-97 valid).
    Iban,
    /// A payment card number (Luhn valid).
    CreditCard,
    /// A national identifier (subtype names the scheme, e.g. `FR_NIR`).
    NationalId,
    /// A postal address.
    Address,
    /// A date presented as a date of birth.
    DateOfBirth,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// A passport number.
    Passport,
}

impl EntityType {
    /// All types, in declaration order.
    pub const ALL: [EntityType; 10] = [
        EntityType::Person,
        EntityType::Email,
        EntityType::Phone,
        EntityType::Iban,
        EntityType::CreditCard,
        EntityType::NationalId,
        EntityType::Address,
        EntityType::DateOfBirth,
        EntityType::IpAddress,
        EntityType::Passport,
    ];

    /// The wire name (`PERSON`, `NATIONAL_ID`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Person => "PERSON",
            EntityType::Email => "EMAIL",
            EntityType::Phone => "PHONE",
            EntityType::Iban => "IBAN",
            EntityType::CreditCard => "CREDIT_CARD",
            EntityType::NationalId => "NATIONAL_ID",
            EntityType::Address => "ADDRESS",
            EntityType::DateOfBirth => "DATE_OF_BIRTH",
            EntityType::IpAddress => "IP_ADDRESS",
            EntityType::Passport => "PASSPORT",
        }
    }

    /// Direct identifiers: what `eu_sovereign` deployments must not see by
    /// default (DESIGN.md, trust tiers).
    pub fn is_direct_identifier(self) -> bool {
        !matches!(self, EntityType::DateOfBirth | EntityType::IpAddress)
    }
}

/// A detected entity. Offsets are **byte** offsets into the scanned `&str`
/// (always on char boundaries), end exclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// Type.
    pub kind: EntityType,
    /// Scheme, for `NATIONAL_ID` (`FR_NIR`, `DE_IDNR`, ...) and `PASSPORT`.
    pub subtype: Option<&'static str>,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// Confidence in `[0, 1]`.
    pub score: f32,
}
