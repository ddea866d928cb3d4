//! Sensitivity: none, ordinary personal data, or GDPR Art. 9 special
//! categories (health, religion, trade-union membership, sexual orientation,
//! racial or ethnic origin, political opinions, genetic and biometric data).

use super::{Detector, Lang};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::sync::LazyLock;

/// How sensitive a text is, for routing (DESIGN.md: special-category data
/// goes to `in_tenancy` only, by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sensitivity {
    /// No personal data found.
    None,
    /// Personal data (at least one entity).
    Personal,
    /// A GDPR Art. 9 special-category cue word was found.
    SpecialCategory,
}

/// Special-category cue words (whole words, case-insensitive; stems end in
/// `*` to match any word they start). Grouped by Art. 9(1) category; all
/// languages in one list because documents mix them.
const CUES: &[&str] = &[
    // health, diagnosis, treatment, medication
    "diagnos*",
    "diagnóstico",
    "diagnostic*",
    "maladie",
    "malade",
    "krankheit",
    "erkrankung",
    "enfermedad",
    "malattia",
    "ziekte",
    "disease",
    "illness",
    "choroba",
    "doença",
    "cancer",
    "krebs",
    "cáncer",
    "cancro",
    "tumeur",
    "tumor*",
    "kanker",
    "nowotwór",
    "diabète",
    "diabetes",
    "diabete",
    "cukrzyca",
    "depression",
    "dépression",
    "depresión",
    "depressione",
    "depressie",
    "depresja",
    "hiv",
    "sida",
    "aids",
    "vih",
    "epilep*",
    "asthma",
    "asthme",
    "asma",
    "astma",
    "schizophren*",
    "esquizofrenia",
    "bipolar*",
    "bipolaire",
    "ordonnance",
    "rezept",
    "receta",
    "ricetta",
    "recept",
    "prescription",
    "médicament*",
    "medikament*",
    "medicamento*",
    "medicinale",
    "farmaco",
    "medicijn*",
    "medication",
    "medicine",
    "lek",
    "leki",
    "arrêt maladie",
    "arrêt de travail",
    "arbeitsunfähig*",
    "krankschreibung",
    "krankmeldung",
    "baja médica",
    "malattia",
    "ziekmelding",
    "sick note",
    "sick leave",
    "zwolnienie lekarskie",
    "hospital*",
    "hôpital",
    "krankenhaus",
    "klinik",
    "ospedale",
    "ziekenhuis",
    "szpital",
    "patient*",
    "paciente",
    "paziente",
    "pacjent",
    "therap*",
    "terapia",
    "thérapie",
    "chimio*",
    "chemo*",
    "quimioterapia",
    "chemioterapia",
    "insulin*",
    "insuline",
    "insulina",
    "antidepress*",
    "pregnan*",
    "grossesse",
    "schwanger*",
    "embarazo",
    "gravidanza",
    "zwanger*",
    "ciąża",
    "handicap*",
    "behinderung",
    "discapacidad",
    "disabilit*",
    "invalidit*",
    "disabile",
    "niepełnosprawn*",
    "allerg*",
    "alergia",
    "surgery",
    "chirurgie",
    "cirugía",
    "chirurgia",
    "mg",
    "posologie",
    "dosage",
    "dosierung",
    "laborbefund",
    "lab report",
    "blood test",
    "prise de sang",
    "analisi del sangue",
    "análisis de sangre",
    "bloedonderzoek",
    "hba1c",
    "cholesterol",
    "cholestérol",
    "colesterol",
    "colesterolo",
    "psychiat*",
    "psycholog*",
    "psicólogo",
    "psicologo",
    "psichiatra",
    "psiquiatra",
    "addiction",
    "sucht",
    "adicción",
    "dipendenza",
    "verslaving",
    "uzależnienie",
    // religion or belief
    "religion",
    "religión",
    "religione",
    "religie",
    "religia",
    "religião",
    "catholique",
    "katholisch",
    "católico",
    "cattolico",
    "katholiek",
    "katolik",
    "protestant*",
    "musulman*",
    "muslim*",
    "moslim",
    "musulmán",
    "musulmano",
    "islam*",
    "juif",
    "juive",
    "jüdisch",
    "judío",
    "ebreo",
    "joods",
    "żyd",
    "jewish",
    "synagog*",
    "mosquée",
    "moschee",
    "mezquita",
    "moschea",
    "moskee",
    "meczet",
    "mosque",
    "église",
    "kirchensteuer",
    "confession*",
    "konfession",
    "bouddhiste",
    "buddhist*",
    "hindu*",
    "atheist*",
    "athée",
    "ateo",
    "kosher",
    "casher",
    "halal",
    // trade union membership
    "syndicat",
    "syndical*",
    "syndiqué*",
    "gewerkschaft*",
    "sindicato",
    "sindacato",
    "sindacale",
    "vakbond",
    "związek zawodowy",
    "związku zawodowego",
    "trade union",
    "union member*",
    "cgt",
    "cfdt",
    "ig metall",
    "ccoo",
    "ugt",
    "cgil",
    "cisl",
    "fnv",
    "solidarność",
    // sexual orientation / sex life
    "homosexu*",
    "homosessual*",
    "homoseksual*",
    "gay",
    "lesbi*",
    "bisexu*",
    "bisessual*",
    "biseksual*",
    "transgen*",
    "orientation sexuelle",
    "sexuelle orientierung",
    "orientación sexual",
    "orientamento sessuale",
    "seksuele geaardheid",
    "orientacja seksualna",
    "sexual orientation",
    "lgbt*",
    // racial or ethnic origin
    "origine ethnique",
    "ethnische herkunft",
    "origen étnico",
    "origine etnica",
    "etnische afkomst",
    "pochodzenie etniczne",
    "ethnic origin",
    "ethnicity",
    "ethnie",
    "ethnizität",
    "etnia",
    "etniciteit",
    "rasse",
    "raza",
    "razza",
    "roma",
    // political opinions
    "opinion politique",
    "opinions politiques",
    "politische meinung",
    "opinión política",
    "opinione politica",
    "politieke voorkeur",
    "poglądy polityczne",
    "political opinion*",
    "parteimitglied*",
    "party member*",
    "membre du parti",
    "afiliado al partido",
    "iscritto al partito",
    "partijlid",
    // genetic and biometric data
    "génétique",
    "genetisch*",
    "genético",
    "genetico",
    "genetyczn*",
    "genetic*",
    "adn",
    "dna",
    "génome",
    "genom*",
    "biométrique",
    "biometrisch*",
    "biométrico",
    "biometrico",
    "biometryczn*",
    "biometric*",
    "empreinte digitale",
    "empreintes digitales",
    "fingerabdruck",
    "huella dactilar",
    "impronta digitale",
    "vingerafdruk",
    "odcisk palca",
    "fingerprint*",
    "reconnaissance faciale",
    "gesichtserkennung",
    "reconocimiento facial",
    "riconoscimento facciale",
    "gezichtsherkenning",
    "facial recognition",
];

struct Compiled {
    ac: AhoCorasick,
    stem: Vec<bool>,
}

static SPECIAL: LazyLock<Compiled> = LazyLock::new(|| {
    let stem = CUES.iter().map(|c| c.ends_with('*')).collect();
    let words: Vec<&str> = CUES.iter().map(|c| c.trim_end_matches('*')).collect();
    let ac = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        // Every prompt's every text goes through it: a DFA (~2-3x faster
        // than the NFA chosen by default for this many patterns; same
        // matches) is worth its few hundred KB.
        .kind(Some(AhoCorasickKind::DFA))
        .build(words)
        .expect("static cue list builds");
    Compiled { ac, stem }
});

/// A special-category cue occurs as a whole word (or, for stems, as the
/// start of a word).
pub fn has_special_category_cue(text: &str) -> bool {
    let c = &*SPECIAL;
    c.ac.find_iter(text).any(|m| {
        let left = text[..m.start()]
            .chars()
            .next_back()
            .is_none_or(|ch| !ch.is_alphanumeric());
        let right = c.stem[m.pattern().as_usize()]
            || text[m.end()..]
                .chars()
                .next()
                .is_none_or(|ch| !ch.is_alphanumeric());
        left && right
    })
}

/// Classifies `text`: `SpecialCategory` on an Art. 9 cue word, else
/// `Personal` when any entity is detected, else `None`.
pub fn sensitivity(text: &str, lang: Option<Lang>) -> Sensitivity {
    if has_special_category_cue(text) {
        return Sensitivity::SpecialCategory;
    }
    static DEFAULT: LazyLock<Detector> = LazyLock::new(Detector::new);
    if DEFAULT.detect(text, lang).is_empty() {
        Sensitivity::None
    } else {
        Sensitivity::Personal
    }
}

impl Detector {
    /// [`sensitivity`] with this detector's configuration.
    pub fn sensitivity(&self, text: &str, lang: Option<Lang>) -> Sensitivity {
        if has_special_category_cue(text) {
            Sensitivity::SpecialCategory
        } else if self.detect(text, lang).is_empty() {
            Sensitivity::None
        } else {
            Sensitivity::Personal
        }
    }
}
