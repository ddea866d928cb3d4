//! Tests of the pseudonymiser and of whole-text re-identification.

use proptest::prelude::*;

use super::*;

fn ent(kind: EntityType, start: usize, end: usize) -> Entity {
    Entity {
        kind,
        subtype: None,
        start,
        end,
        score: 1.0,
    }
}

/// Entities for each occurrence of each `(kind, needle)` in `text`.
fn find(text: &str, needles: &[(EntityType, &str)]) -> Vec<Entity> {
    let mut v = Vec::new();
    for &(kind, needle) in needles {
        for (i, _) in text.match_indices(needle) {
            v.push(ent(kind, i, i + needle.len()));
        }
    }
    v
}

#[test]
fn replaces_and_restores() {
    let text = "Alice Martin (alice@example.fr) called Bob. Alice Martin again.";
    let ents = find(
        text,
        &[
            (EntityType::Person, "Alice Martin"),
            (EntityType::Person, "Bob"),
            (EntityType::Email, "alice@example.fr"),
        ],
    );
    let mut m = Mapping::new();
    let p = pseudonymise(text, &ents, &mut m, |_| true).unwrap();
    assert_eq!(
        p.text(),
        "[[PERSON_1]] ([[EMAIL_1]]) called [[PERSON_2]]. [[PERSON_1]] again."
    );
    assert_eq!(p.replaced()[&EntityType::Person], 3);
    assert_eq!(p.replaced()[&EntityType::Email], 1);
    assert_eq!(p.escaped(), 0);
    assert_eq!(reidentify(p.text(), &m), text);
}

#[test]
fn select_filters_entities() {
    let text = "Alice, 10.0.0.1";
    let ents = vec![
        ent(EntityType::Person, 0, 5),
        ent(EntityType::IpAddress, 7, 15),
    ];
    let mut m = Mapping::new();
    let p = pseudonymise(text, &ents, &mut m, |e| e.kind.is_direct_identifier()).unwrap();
    assert_eq!(p.text(), "[[PERSON_1]], 10.0.0.1");
}

#[test]
fn same_value_across_calls_and_formats() {
    let mut m = Mapping::new();
    let a = "IBAN FR76 3000 6000 0112 3456 7890 189, tel +33 6 12 34 56 78";
    let b = "iban fr7630006000011234567890189 tel 0033612345678";
    let pa = pseudonymise(
        a,
        &find(
            a,
            &[
                (EntityType::Iban, "FR76 3000 6000 0112 3456 7890 189"),
                (EntityType::Phone, "+33 6 12 34 56 78"),
            ],
        ),
        &mut m,
        |_| true,
    )
    .unwrap();
    let pb = pseudonymise(
        b,
        &find(
            b,
            &[
                (EntityType::Iban, "fr7630006000011234567890189"),
                (EntityType::Phone, "0033612345678"),
            ],
        ),
        &mut m,
        |_| true,
    )
    .unwrap();
    assert_eq!(pa.text(), "IBAN [[IBAN_1]], tel [[PHONE_1]]");
    assert_eq!(pb.text(), "iban [[IBAN_1]] tel [[PHONE_1]]");
    // The first-seen form comes back.
    assert_eq!(
        reidentify(pb.text(), &m),
        "iban FR76 3000 6000 0112 3456 7890 189 tel +33 6 12 34 56 78"
    );
}

#[test]
fn user_placeholder_lookalikes_survive() {
    let text = "Template: [[PERSON_1]] and [[ email 1 ]]; real: Alice.";
    let ents = find(text, &[(EntityType::Person, "Alice")]);
    let mut m = Mapping::new();
    let p = pseudonymise(text, &ents, &mut m, |_| true).unwrap();
    assert_eq!(p.escaped(), 2);
    assert_eq!(
        p.text(),
        "Template: [[PERSON_1]] and [[EMAIL_1]]; real: [[PERSON_2]]."
    );
    assert_eq!(reidentify(p.text(), &m), text);
    // Later in the conversation the model echoes the user's literal token:
    // it comes back as the user's literal text, never as a person.
    assert_eq!(
        reidentify("[[PERSON_1]] / [[PERSON_2]]", &m),
        "[[PERSON_1]] / Alice"
    );
}

#[test]
fn unissued_placeholders_stay_literal() {
    let mut m = Mapping::new();
    pseudonymise("Alice", &[ent(EntityType::Person, 0, 5)], &mut m, |_| true).unwrap();
    for s in [
        "[[PERSON_2]]",
        "[[EMAIL_1]]",
        "[PERSON_1]",
        "<PERSON_1>",
        "[[PERSON_01]]",
        "[[PERSON_1]",
        "[[PERSON_1",
        "[[",
        "[",
    ] {
        assert_eq!(reidentify(s, &m), s);
    }
    assert_eq!(reidentify("[[[PERSON_1]]]", &m), "[Alice]");
    assert_eq!(reidentify("[[PERSON_1]][[person 1]]", &m), "AliceAlice");
}

#[test]
fn model_mangled_placeholders_are_restored() {
    let mut m = Mapping::new();
    let text = "Jean Dupont, né le 01/02/1980";
    pseudonymise(
        text,
        &[
            ent(EntityType::Person, 0, 11),
            ent(EntityType::DateOfBirth, 20, 30),
        ],
        &mut m,
        |_| true,
    )
    .unwrap();
    for s in [
        "[[PERSON_1]]",
        "[[person_1]]",
        "[[ PERSON_1 ]]",
        "[[Person 1]]",
        "[[PERSON-1]]",
        "[[PERSON1]]",
    ] {
        assert_eq!(reidentify(s, &m), "Jean Dupont", "{s}");
    }
    assert_eq!(reidentify("[[Date of Birth 1]]", &m), "01/02/1980");
}

#[test]
fn overlapping_spans_are_merged() {
    let text = "Mr Alice Martin";
    let ents = vec![
        ent(EntityType::Person, 3, 8),
        ent(EntityType::Person, 3, 15),
        ent(EntityType::Address, 9, 15),
    ];
    let mut m = Mapping::new();
    let p = pseudonymise(text, &ents, &mut m, |_| true).unwrap();
    assert_eq!(p.text(), "Mr [[PERSON_1]]");
    assert_eq!(reidentify(p.text(), &m), text);
}

#[test]
fn invalid_spans_are_refused_without_text_in_the_error() {
    let text = "Élodie Secretname";
    for (s, e) in [(0, 1), (5, 4), (3, 3), (0, 99)] {
        let err = pseudonymise(
            text,
            &[ent(EntityType::Person, s, e)],
            &mut Mapping::new(),
            |_| true,
        )
        .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("Secret") && !shown.contains("lodie"),
            "{shown}"
        );
        assert!(matches!(err, Error::InvalidSpan { .. }));
    }
    // Unselected invalid entities are ignored.
    assert!(
        pseudonymise(
            text,
            &[ent(EntityType::Person, 0, 99)],
            &mut Mapping::new(),
            |_| false
        )
        .is_ok()
    );
}

#[test]
fn errors_and_results_do_not_show_values() {
    let errs = [
        Error::InvalidSpan {
            start: 1,
            end: 2,
            len: 3,
        },
        Error::PlaceholdersExhausted {
            kind: EntityType::Iban,
        },
        Error::InvalidMapping { reason: "x" },
        Error::KnownValuesTooLarge,
    ];
    for e in errs {
        assert!(!format!("{e}").is_empty());
    }
    let mut m = Mapping::new();
    let p = pseudonymise(
        "Secretname x",
        &[ent(EntityType::Person, 0, 10)],
        &mut m,
        |_| true,
    )
    .unwrap();
    let shown = format!("{p:?}");
    assert!(
        !shown.contains("Secretname") && !shown.contains("PERSON_1"),
        "{shown}"
    );
}

#[test]
fn known_values_are_caught_when_the_detector_misses_them() {
    let mut m = Mapping::new();
    let turn1 = "My name is Alice Martin.";
    pseudonymise(
        turn1,
        &find(turn1, &[(EntityType::Person, "Alice Martin")]),
        &mut m,
        |_| true,
    )
    .unwrap();
    // The client sends the re-identified answer back as history; the
    // detector finds nothing this time.
    let turn2 = "Hello alice martin! Malice Martinez is someone else.";
    let p = pseudonymise(turn2, &m.find_known(turn2).unwrap(), &mut m, |_| true).unwrap();
    assert_eq!(
        p.text(),
        "Hello [[PERSON_1]]! Malice Martinez is someone else."
    );
}

#[test]
fn json_mode_escapes_restored_values() {
    let name = "Ann \"Nan\" O\\Neil\n\u{1}";
    let mut m = Mapping::new();
    pseudonymise(
        name,
        &[ent(EntityType::Person, 0, name.len())],
        &mut m,
        |_| true,
    )
    .unwrap();
    let doc = r#"{"name": "[[PERSON_1]]", "greeting": "Hi [[ person 1 ]]!"}"#;
    let out = reidentify_json(doc, &m);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["name"], name);
    assert_eq!(v["greeting"], format!("Hi {name}!"));
    assert_eq!(reidentify_with(doc, &m, Mode::Text), reidentify(doc, &m));
}

// === properties ===

/// Text pieces likely to trip the grammar.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "\\PC{0,6}",
        2 => "[\\[\\] a-zA-Z_0-9-]{0,8}",
        1 => Just("[[PERSON_1]]".to_owned()),
        1 => Just("[[ person 2 ]]".to_owned()),
        1 => Just("[[EMAIL_1".to_owned()),
        1 => Just("[[".to_owned()),
        1 => Just("]]".to_owned()),
        1 => Just("é漢🙂".to_owned()),
    ]
}

fn kind() -> impl Strategy<Value = EntityType> {
    proptest::sample::select(EntityType::ALL.to_vec())
}

/// A text cut into segments, some of them entities.
fn segments() -> impl Strategy<Value = Vec<(String, Option<EntityType>)>> {
    proptest::collection::vec((piece(), proptest::option::of(kind())), 0..12)
}

fn build(segs: &[(String, Option<EntityType>)]) -> (String, Vec<Entity>) {
    let mut text = String::new();
    let mut ents = Vec::new();
    for (s, k) in segs {
        let start = text.len();
        text.push_str(s);
        if let Some(k) = k.filter(|_| !s.is_empty()) {
            ents.push(ent(k, start, text.len()));
        }
    }
    (text, ents)
}

/// What re-identification must give back: each entity in the form first
/// seen for its normalised value; and whether that is the text itself.
fn expected_back(segs: &[(String, Option<EntityType>)], m: &Mapping) -> (String, bool) {
    let mut expected = String::new();
    let mut one_form = true;
    for (s, k) in segs {
        match k {
            Some(k) if !s.is_empty() => {
                let ph = m.placeholder_of(*k, s).expect("issued");
                let first = m.value_of(ph).expect("issued");
                expected.push_str(first);
                one_form &= first == s;
            }
            _ => expected.push_str(s),
        }
    }
    (expected, one_form)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// reidentify(pseudonymise(x)) == x, with each entity restored in the
    /// form first seen for its normalised value — which is x itself when
    /// every value is written one way.
    #[test]
    fn round_trip(segs in segments(), prior in segments()) {
        let mut m = Mapping::new();
        // An earlier turn of the conversation, then this one.
        for segs in [prior, segs] {
            let (text, ents) = build(&segs);
            let p = pseudonymise(&text, &ents, &mut m, |_| true).unwrap();
            let (expected, one_form) = expected_back(&segs, &m);
            let back = reidentify(p.text(), &m);
            prop_assert_eq!(&back, &expected);
            if one_form {
                prop_assert_eq!(&back, &text);
            }
        }
    }

    /// Selected values do not survive in the outgoing text.
    #[test]
    fn no_selected_value_survives(
        segs in proptest::collection::vec(
            ("[^ж]{0,6}", "[a-zA-Zé ]{0,4}ж[a-z0-9@. ]{0,4}", kind()), 0..8),
    ) {
        let mut text = String::new();
        let mut ents = Vec::new();
        for (gap, value, k) in &segs {
            text.push_str(gap);
            let start = text.len();
            text.push_str(value);
            ents.push(ent(*k, start, text.len()));
        }
        let mut m = Mapping::new();
        let p = pseudonymise(&text, &ents, &mut m, |_| true).unwrap();
        prop_assert!(!p.text().contains('ж'));
        for (_, value, _) in &segs {
            prop_assert!(!p.text().contains(value.as_str()));
        }
    }

    /// One value, one placeholder: across calls and formatting variants.
    #[test]
    fn one_value_one_placeholder(
        words in proptest::collection::vec("[a-zA-Zéèàü]{1,8}", 1..4),
        caps in proptest::collection::vec(any::<bool>(), 32),
        seps in proptest::collection::vec(" {1,3}", 4),
    ) {
        let canonical = words.join(" ");
        let variant: String = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let w: String = w
                    .chars()
                    .enumerate()
                    .map(|(j, c)| if caps[(i * 8 + j) % 32] { c.to_uppercase().collect::<String>() } else { c.to_lowercase().collect() })
                    .collect();
                if i == 0 { w } else { format!("{}{w}", seps[i]) }
            })
            .collect();
        let mut m = Mapping::new();
        let a = pseudonymise(&canonical, &[ent(EntityType::Person, 0, canonical.len())], &mut m, |_| true).unwrap();
        let b = pseudonymise(&variant, &[ent(EntityType::Person, 0, variant.len())], &mut m, |_| true).unwrap();
        let both = format!("{canonical} / {canonical}");
        let c = pseudonymise(&both, &find(&both, &[(EntityType::Person, canonical.as_str())]), &mut m, |_| true).unwrap();
        prop_assert_eq!(a.text(), "[[PERSON_1]]");
        prop_assert_eq!(b.text(), "[[PERSON_1]]");
        prop_assert_eq!(c.text(), "[[PERSON_1]] / [[PERSON_1]]");
        prop_assert_eq!(m.len(), 1);
    }

    /// Debug and Display of a mapping never show a value.
    #[test]
    fn mapping_debug_redacts(values in proptest::collection::vec(("[a-z]{3}[0-9]{3}", kind()), 1..6)) {
        let mut m = Mapping::new();
        for (v, k) in &values {
            pseudonymise(v, &[ent(*k, 0, v.len())], &mut m, |_| true).unwrap();
        }
        for shown in [format!("{m:?}"), format!("{m:#?}"), format!("{m}")] {
            for (v, _) in &values {
                prop_assert!(!shown.contains(v.as_str()), "{}", shown);
                prop_assert!(!shown.contains(&v[3..]), "{}", shown);
            }
        }
    }

    /// Case and spacing variants of an issued placeholder are restored.
    #[test]
    fn mangled_placeholders(
        k in kind(),
        caps in proptest::collection::vec(any::<bool>(), 16),
        sep_between in proptest::sample::select(vec!["_", "-", " ", ""]),
        sep_number in proptest::sample::select(vec!["_", "-", " ", ""]),
        lead in 0usize..=2,
        trail in 0usize..=2,
    ) {
        let mut m = Mapping::new();
        pseudonymise("v1", &[ent(k, 0, 2)], &mut m, |_| true).unwrap();
        pseudonymise("v2", &[ent(k, 0, 2)], &mut m, |_| true).unwrap();
        let name: String = k
            .as_str()
            .split('_')
            .map(|w| {
                w.chars()
                    .enumerate()
                    .map(|(j, c)| if caps[j % 16] { c } else { c.to_ascii_lowercase() })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join(sep_between);
        let token = format!("[[{}{name}{sep_number}2{}]]", " ".repeat(lead), " ".repeat(trail));
        prop_assert_eq!(Placeholder::parse(&token), Some(Placeholder { kind: k, number: 2 }));
        prop_assert_eq!(reidentify(&format!("a{token}b"), &m), "av2b");
    }
}
