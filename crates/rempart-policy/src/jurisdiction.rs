//! Countries, legal clusters and CLOUD-Act exposure.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 3166-1 alpha-2 country code, upper-case (`FR`, `DE`, `GB`, `US`).
///
/// `UK` is accepted on input as an alias of `GB` (it is what people type).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Country([u8; 2]);

impl Country {
    /// Parse `"fr"`, `"FR"`, `"uk"`; anything else than two ASCII letters fails.
    pub fn parse(s: &str) -> Option<Country> {
        let b = s.trim().as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        let code = [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()];
        Some(if &code == b"UK" {
            Country(*b"GB")
        } else {
            Country(code)
        })
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Invariant: two ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The legal cluster whose data-protection law applies in this country.
    pub fn legal_cluster(self) -> LegalCluster {
        if EEA.contains(&self.as_str()) {
            LegalCluster::EuGdpr
        } else {
            match self.as_str() {
                "GB" => LegalCluster::UkGdpr,
                "CH" => LegalCluster::Ch,
                "US" => LegalCluster::Us,
                _ => LegalCluster::Other(self),
            }
        }
    }

    /// Whether a company whose ultimate parent is incorporated here is
    /// subject to the US CLOUD Act (18 U.S.C. § 2713): US parents only.
    pub fn cloud_act_exposed(self) -> bool {
        self.as_str() == "US"
    }
}

/// The 27 EU member states and the three EEA EFTA states (Iceland,
/// Liechtenstein, Norway), where the GDPR applies (EEA Agreement, Annex XI).
const EEA: [&str; 30] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Country {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Country::parse(s).ok_or(ParseError::Country)
    }
}

impl Serialize for Country {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Country::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{s}` is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE, GB)"
            ))
        })
    }
}

/// A group of countries under one data-protection regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LegalCluster {
    /// EU/EEA: GDPR (Regulation (EU) 2016/679).
    EuGdpr,
    /// United Kingdom: UK GDPR and the Data Protection Act 2018.
    UkGdpr,
    /// Switzerland: revised FADP (nFADP).
    Ch,
    /// United States.
    Us,
    /// Any other country, by itself.
    Other(Country),
}

impl LegalCluster {
    /// Parse `EU-GDPR`, `UK-GDPR`, `CH`, `US`, or `OTHER-XX`.
    pub fn parse(s: &str) -> Option<LegalCluster> {
        match s.trim().to_ascii_uppercase().as_str() {
            "EU-GDPR" | "EU" | "EEA" => Some(LegalCluster::EuGdpr),
            "UK-GDPR" | "UK" | "GB" => Some(LegalCluster::UkGdpr),
            "CH" | "CH-FADP" => Some(LegalCluster::Ch),
            "US" => Some(LegalCluster::Us),
            other => other
                .strip_prefix("OTHER-")
                .and_then(Country::parse)
                .map(LegalCluster::Other),
        }
    }

    /// Whether the cluster offers GDPR-grade protection for European data
    /// (the EEA itself, or an EU adequacy decision: UK, CH).
    pub fn is_european(self) -> bool {
        matches!(
            self,
            LegalCluster::EuGdpr | LegalCluster::UkGdpr | LegalCluster::Ch
        )
    }
}

impl fmt::Display for LegalCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LegalCluster::EuGdpr => f.write_str("EU-GDPR"),
            LegalCluster::UkGdpr => f.write_str("UK-GDPR"),
            LegalCluster::Ch => f.write_str("CH"),
            LegalCluster::Us => f.write_str("US"),
            LegalCluster::Other(c) => write!(f, "OTHER-{c}"),
        }
    }
}

impl FromStr for LegalCluster {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LegalCluster::parse(s).ok_or(ParseError::Cluster)
    }
}

impl Serialize for LegalCluster {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LegalCluster {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        LegalCluster::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{s}` is not a legal cluster (EU-GDPR, UK-GDPR, CH, US, OTHER-XX)"
            ))
        })
    }
}

/// A value that failed to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not a two-letter country code.
    #[error("not an ISO 3166-1 alpha-2 country code")]
    Country,
    /// Not a legal cluster name.
    #[error("not a legal cluster (EU-GDPR, UK-GDPR, CH, US, OTHER-XX)")]
    Cluster,
    /// Not a trust tier name.
    #[error("not a trust tier (in_tenancy, eu_sovereign, eu_region_foreign_operator, foreign)")]
    Tier,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_map_to_clusters() {
        let c = |s| Country::parse(s).unwrap().legal_cluster();
        assert_eq!(c("fr"), LegalCluster::EuGdpr);
        assert_eq!(c("NO"), LegalCluster::EuGdpr);
        assert_eq!(c("uk"), LegalCluster::UkGdpr);
        assert_eq!(c("GB"), LegalCluster::UkGdpr);
        assert_eq!(c("CH"), LegalCluster::Ch);
        assert_eq!(c("US"), LegalCluster::Us);
        assert_eq!(c("JP").to_string(), "OTHER-JP");
        assert!(Country::parse("FRA").is_none());
        assert!(Country::parse("F1").is_none());
    }

    #[test]
    fn clusters_round_trip() {
        for s in ["EU-GDPR", "UK-GDPR", "CH", "US", "OTHER-JP"] {
            assert_eq!(LegalCluster::parse(s).unwrap().to_string(), s);
        }
    }
}
