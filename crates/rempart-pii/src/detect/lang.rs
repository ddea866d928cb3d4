//! Language hints.

/// A document language (ISO 639-1). Detectors use it as a hint; every
/// detector still runs on every text, so a Spanish e-mail quoting a
/// Portuguese ID is covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Lang {
    /// French.
    Fr,
    /// German.
    De,
    /// Spanish.
    Es,
    /// Italian.
    It,
    /// Dutch.
    Nl,
    /// English.
    En,
    /// Polish.
    Pl,
    /// Portuguese.
    Pt,
    /// Swedish.
    Sv,
    /// Danish.
    Da,
    /// Finnish.
    Fi,
}

impl Lang {
    /// Parses an ISO 639-1 code, with an optional region (`fr`, `fr-BE`,
    /// `de_AT`, `EN`). Unknown codes give `None`.
    pub fn from_code(code: &str) -> Option<Lang> {
        let base = code.split(['-', '_']).next().unwrap_or("");
        Some(match base.to_ascii_lowercase().as_str() {
            "fr" => Lang::Fr,
            "de" => Lang::De,
            "es" => Lang::Es,
            "it" => Lang::It,
            "nl" => Lang::Nl,
            "en" => Lang::En,
            "pl" => Lang::Pl,
            "pt" => Lang::Pt,
            "sv" => Lang::Sv,
            "da" => Lang::Da,
            "fi" => Lang::Fi,
            _ => return None,
        })
    }

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::De => "de",
            Lang::Es => "es",
            Lang::It => "it",
            Lang::Nl => "nl",
            Lang::En => "en",
            Lang::Pl => "pl",
            Lang::Pt => "pt",
            Lang::Sv => "sv",
            Lang::Da => "da",
            Lang::Fi => "fi",
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = UnknownLang;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::from_code(s).ok_or(UnknownLang)
    }
}

/// The language code is not one the detector knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownLang;

impl std::fmt::Display for UnknownLang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unknown language code")
    }
}

impl std::error::Error for UnknownLang {}
