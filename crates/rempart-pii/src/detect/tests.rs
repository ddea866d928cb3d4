//! Detector-level tests: the public contract (sorted, non-overlapping, on
//! char boundaries), the JSONL line format, errors that never leak text,
//! sensitivity, configuration and the NER seam.

use super::*;
use proptest::prelude::*;

fn kinds(text: &str, lang: Option<Lang>) -> Vec<(EntityType, String)> {
    Detector::new()
        .detect(text, lang)
        .into_iter()
        .map(|e| (e.kind, text[e.start..e.end].to_string()))
        .collect()
}

fn check_contract(text: &str, ents: &[Entity]) -> Result<(), TestCaseError> {
    let mut prev_end = 0;
    for e in ents {
        prop_assert!(e.start < e.end, "empty span");
        prop_assert!(e.end <= text.len());
        prop_assert!(text.is_char_boundary(e.start) && text.is_char_boundary(e.end));
        prop_assert!(e.start >= prev_end, "overlap or unsorted");
        prop_assert!((0.0..=1.0).contains(&e.score));
        prev_end = e.end;
    }
    Ok(())
}

/// Fragments that wake every detector, glued at random with random noise.
const FRAGMENTS: &[&str] = &[
    "Nom : DUPONT Jean\n",
    "IBAN DE89 3704 0044 0532 0130 00 ",
    "née le 3 février 1984 ",
    "12 rue de la Paix, 75002 Paris",
    "Tel. +49 (0)30 1234567",
    "BSN: 111222333 ",
    "4539 5787 6362 1486",
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10\n",
    "2001:db8::1 ",
    "192.168.0.1",
    "Herr ",
    "Mme ",
    "Cordialement,\n",
    "Straße 5",
    "ul. ",
    "é",
    "ß",
    "€",
    "日本",
    "\u{200d}",
    "°",
    "  ",
    "\n",
    ":",
    ", ",
    "-",
    "/",
    "12",
    "A",
    "z",
    "Ω",
    "🙂",
    "Via ",
    "Calle ",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn never_panics_on_arbitrary_utf8(text in "\\PC{0,400}") {
        let d = Detector::new();
        for lang in [None, Some(Lang::Fr), Some(Lang::De), Some(Lang::En)] {
            let ents = d.detect(&text, lang);
            check_contract(&text, &ents)?;
        }
    }

    #[test]
    fn contract_holds_on_dense_mixtures(parts in proptest::collection::vec(0..FRAGMENTS.len(), 0..40)) {
        let text: String = parts.iter().map(|&i| FRAGMENTS[i]).collect();
        let ents = Detector::new().detect(&text, None);
        check_contract(&text, &ents)?;
        let mut chars = ents.clone();
        byte_to_char_offsets(&text, &mut chars);
        for (b, c) in ents.iter().zip(&chars) {
            prop_assert_eq!(text[..b.start].chars().count(), c.start);
            prop_assert_eq!(text[..b.end].chars().count(), c.end);
        }
    }
}

#[test]
fn mixed_document() {
    let t = "Objet : changement d'adresse\n\nNom : DUPONT     Prénom : Jean\n\
             Né le 12/03/1980\nAdresse : 12 rue des Lilas, 69003 Lyon\n\
             N° de sécurité sociale : 1 80 03 69 123 456 xx\n\
             IBAN : FR14 2004 1010 0505 0001 3M02 606\nCordialement,\nJean Dupont";
    let got = kinds(t, Some(Lang::Fr));
    assert!(
        got.contains(&(EntityType::Person, "DUPONT".into())),
        "{got:?}"
    );
    assert!(got.contains(&(EntityType::DateOfBirth, "12/03/1980".into())));
    assert!(got.contains(&(EntityType::Address, "12 rue des Lilas, 69003 Lyon".into())));
    assert!(got.contains(&(EntityType::Iban, "FR14 2004 1010 0505 0001 3M02 606".into())));
    assert!(got.contains(&(EntityType::Person, "Jean Dupont".into())));
}

#[test]
fn checksum_failing_look_alikes_are_not_reported() {
    // IBAN with wrong check digits, a card failing Luhn, a BSN failing the
    // 11-test: none is reported as its type.
    let t = "IBAN DE88 3704 0044 0532 0130 00, carte 4539 5787 6362 1487, BSN 111222334";
    let got = kinds(t, Some(Lang::Nl));
    assert!(
        !got.iter().any(|(k, _)| matches!(
            k,
            EntityType::Iban | EntityType::CreditCard | EntityType::NationalId
        )),
        "{got:?}"
    );
}

#[test]
fn config_filters_types_and_scores() {
    let t = "Mail jean@example.org, tel. 06 12 34 56 78";
    let only_email = Detector::with_config(DetectorConfig {
        types: vec![EntityType::Email],
        ..Default::default()
    });
    let got = only_email.detect(t, Some(Lang::Fr));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].kind, EntityType::Email);
    let strict = Detector::with_config(DetectorConfig {
        min_score: 0.999,
        ..Default::default()
    });
    assert!(strict.detect(t, Some(Lang::Fr)).is_empty());
}

struct FixedNer;

impl NerBackend for FixedNer {
    fn entities(&self, text: &str, _lang: Option<Lang>, out: &mut Vec<Entity>) {
        if let Some(i) = text.find("Zyx") {
            out.push(Entity {
                kind: EntityType::Person,
                subtype: None,
                start: i,
                end: i + 3,
                score: 0.6,
            });
        }
        // Out-of-range spans from a backend are ignored, never a panic.
        out.push(Entity {
            kind: EntityType::Person,
            subtype: None,
            start: 5,
            end: 10_000,
            score: 0.9,
        });
    }
}

#[test]
fn ner_backend_candidates_join_the_resolution() {
    let d = Detector::new().with_ner(Box::new(FixedNer));
    let got = d.detect("a word Zyx here", None);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].start, got[0].end), (7, 10));
}

#[test]
fn scan_line_uses_char_offsets() {
    let d = Detector::new();
    let out = scan_line(
        &d,
        r#"{"id":"a1","text":"é é jean@example.org","lang":"fr"}"#,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["id"], "a1");
    let e = &v["entities"][0];
    assert_eq!(e["type"], "EMAIL");
    assert_eq!(e["start"], 4);
    assert_eq!(e["end"], 20);
    // Numeric ids are echoed as they came; an unknown lang is ignored.
    let out = scan_line(&d, r#"{"id":7,"text":"rien","lang":"xx"}"#).unwrap();
    assert_eq!(out, r#"{"id":7,"entities":[]}"#);
}

#[test]
fn scan_errors_never_contain_text_or_values() {
    let d = Detector::new();
    let secret = "DE89 3704 0044 0532 0130 00";
    let lines = [
        format!(r#"{{"id":"x","text":"{secret}"#),
        format!(r#"{{"id":"x","text":42,"note":"{secret}"}}"#),
        format!(r#"{{"text":"{secret}"}}"#),
        format!(r#"["{secret}"]"#),
        secret.to_string(),
    ];
    for line in &lines {
        let err = scan_line(&d, line).unwrap_err();
        let msg = format!("{err} {err:?}");
        assert!(!msg.contains("DE89"), "{msg}");
        assert!(!msg.contains("3704"), "{msg}");
    }
}

#[test]
fn sensitivity_levels() {
    assert_eq!(
        sensitivity("Bonjour, quelle heure est-il ?", Some(Lang::Fr)),
        Sensitivity::None
    );
    assert_eq!(
        sensitivity("Écrivez à jean.dupont@example.org", Some(Lang::Fr)),
        Sensitivity::Personal
    );
    assert_eq!(
        sensitivity("Patient sous insuline, diabète de type 1", Some(Lang::Fr)),
        Sensitivity::SpecialCategory
    );
    assert_eq!(
        sensitivity("Er ist Mitglied der Gewerkschaft", Some(Lang::De)),
        Sensitivity::SpecialCategory
    );
    // Whole words only: "hivernal" is not "HIV".
    assert_eq!(
        sensitivity("un matin hivernal", Some(Lang::Fr)),
        Sensitivity::None
    );
}

#[test]
fn lang_codes() {
    assert_eq!(Lang::from_code("fr-BE"), Some(Lang::Fr));
    assert_eq!(Lang::from_code("DE_at"), Some(Lang::De));
    assert_eq!("pl".parse::<Lang>(), Ok(Lang::Pl));
    assert!(Lang::from_code("xx").is_none());
    assert_eq!(Lang::Nl.code(), "nl");
}

/// Layouts the dev corpus does not have (free-form messages).
#[test]
fn free_form_messages() {
    let t = "Hallo Frau Obermeier, anbei meine neue Adresse: Kastanienweg 12b, 80995 München. \
             Rückruf bitte unter 0176 2345 6789. Gruß, Wolfgang Brunnhuber";
    let got = kinds(t, Some(Lang::De));
    assert!(
        got.contains(&(EntityType::Person, "Obermeier".into())),
        "{got:?}"
    );
    assert!(got.contains(&(
        EntityType::Address,
        "Kastanienweg 12b, 80995 München".into()
    )));
    assert!(got.contains(&(EntityType::Phone, "0176 2345 6789".into())));
    let t = "Beste meneer De Wachter, ik woon op Lindenlaan 5, 3521 AB Utrecht. Groet, Femke";
    let got = kinds(t, Some(Lang::Nl));
    assert!(
        got.contains(&(EntityType::Person, "De Wachter".into())),
        "{got:?}"
    );
    assert!(got.contains(&(EntityType::Address, "Lindenlaan 5, 3521 AB Utrecht".into())));
    let t = "Dzień dobry, nazywam się Zdzisław Grzybowski, mieszkam przy ul. Słonecznej 4/12, 00-950 Warszawa.";
    let got = kinds(t, Some(Lang::Pl));
    assert!(
        got.contains(&(EntityType::Person, "Zdzisław Grzybowski".into())),
        "{got:?}"
    );
    assert!(got.contains(&(
        EntityType::Address,
        "ul. Słonecznej 4/12, 00-950 Warszawa".into()
    )));
    // A version string is not an IP address; a server address is.
    let t = "Release notes: version 10.13.9.220 fixes the login bug. Server 10.0.0.12 restarted.";
    assert_eq!(
        kinds(t, Some(Lang::En)),
        vec![(EntityType::IpAddress, "10.0.0.12".into())]
    );
}
