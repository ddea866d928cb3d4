use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

fn key() -> TermKey {
    TermKey::new(*b"0123456789abcdef")
}

fn index() -> Bm25Index {
    Bm25Index::new(key(), Bm25Params::default()).unwrap()
}

fn add(idx: &mut Bm25Index, id: &str, doc: &str, text: &str, labels: &Labels) {
    idx.add(NewChunk {
        id,
        document: doc,
        text,
        lang: Some(Lang::En),
        labels,
    })
    .unwrap();
}

fn q(text: &str, k: usize) -> Query<'_> {
    Query {
        text,
        lang: Some(Lang::En),
        k,
        min_score: 0.0,
    }
}

fn ids(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.chunk.as_str()).collect()
}

#[test]
fn scores_match_lucene_bm25_by_hand() {
    let mut idx = index();
    let l = Labels::tenant("t");
    add(&mut idx, "a", "d", "apple banana apple", &l);
    add(&mut idx, "b", "d", "banana cherry", &l);
    add(&mut idx, "c", "d", "cherry durian elderberry fig", &l);
    let r = idx.search(&q("apple cherry", 10), &Principal::new("t"));
    // N = 3, avgdl = 3; df(apple) = 1, df(cherry) = 2.
    let idf = |df: f32| (1.0 + (3.0 - df + 0.5) / (df + 0.5)).ln();
    let tfn = |tf: f32, dl: f32| tf / (tf + 1.2 * (1.0 - 0.75 + 0.75 * dl / 3.0));
    let a = idf(1.0) * tfn(2.0, 3.0);
    let b = idf(2.0) * tfn(1.0, 2.0);
    let c = idf(2.0) * tfn(1.0, 4.0);
    assert_eq!(ids(&r.hits), ["a", "b", "c"]);
    for (h, want) in r.hits.iter().zip([a, b, c]) {
        assert!((h.score - want).abs() < 1e-6, "{} vs {want}", h.score);
    }
    assert_eq!((r.denied, r.admitted, r.refusal), (0, 3, None));
}

#[test]
fn selective_filter_still_returns_k_admissible_hits() {
    let mut idx = index();
    let open = Labels::tenant("t").with_group("all");
    let secret = Labels::tenant("t").with_group("board");
    // 200 chunks mention the query term; only every 50th is admissible,
    // and the admissible ones score lowest (longer texts).
    for i in 0..200 {
        let (labels, text) = if i % 50 == 0 {
            (
                &open,
                "merger plan with many many other words around it here",
            )
        } else {
            (&secret, "merger plan")
        };
        add(&mut idx, &format!("c{i}"), &format!("d{i}"), text, labels);
    }
    let p = Principal::new("t").with_group("all");
    let r = idx.search(&q("merger", 4), &p);
    assert_eq!(ids(&r.hits), ["c0", "c50", "c100", "c150"]);
    assert_eq!(r.denied, 196);
    // A post-filter of the unfiltered top 4 would have returned nothing.
    let unfiltered = idx.search_with(&q("merger", 4), |_| true);
    assert!(unfiltered.hits.iter().all(|h| h.chunk != "c0"));
}

#[test]
fn threshold_and_refusals() {
    let mut idx = index();
    let l = Labels::tenant("t");
    add(&mut idx, "a", "d", "apple banana", &l);
    add(&mut idx, "b", "d", "banana cherry", &l);
    let p = Principal::new("t");
    let r = idx.search(&q("kiwi", 5), &p);
    assert_eq!(r.refusal, Some(Refusal::NoAdmissibleCandidate));
    let mut strict = q("banana", 5);
    strict.min_score = 10.0;
    let r = idx.search(&strict, &p);
    assert!(r.hits.is_empty());
    assert!(matches!(
        r.refusal,
        Some(Refusal::BelowThreshold {
            threshold: 10.0,
            ..
        })
    ));
    let r = idx.search(&q("apple", 5), &Principal::new("other"));
    assert_eq!(r.refusal, Some(Refusal::NoAdmissibleCandidate));
    assert_eq!(r.denied, 1);
}

#[test]
fn rejects_bad_params_and_duplicate_ids() {
    for (k1, b) in [(-1.0, 0.5), (f32::NAN, 0.5), (1.2, 1.5)] {
        assert!(Bm25Index::new(key(), Bm25Params { k1, b }).is_err());
    }
    let mut idx = index();
    let l = Labels::tenant("t");
    add(&mut idx, "a", "d", "x", &l);
    let e = idx
        .add(NewChunk {
            id: "a",
            document: "d",
            text: "secret words",
            lang: None,
            labels: &l,
        })
        .unwrap_err();
    assert!(matches!(e, Error::DuplicateChunk { .. }));
    assert!(!e.to_string().contains("secret"));
}

const DOC_A: &str = "Zyxwvut quarterly acquisition memorandum concerning Borealis Holdings";

fn corpus(with_a: bool) -> Bm25Index {
    let mut idx = index();
    let hr = Labels::tenant("t").with_group("hr");
    let all = Labels::tenant("t");
    add(
        &mut idx,
        "b#0",
        "doc-b",
        "Holiday policy for all staff",
        &all,
    );
    if with_a {
        add(&mut idx, "a#0", "doc-a", DOC_A, &hr);
        add(
            &mut idx,
            "a#1",
            "doc-a",
            "Borealis memorandum appendix",
            &hr,
        );
    }
    add(
        &mut idx,
        "c#0",
        "doc-c",
        "Staff memorandum on parking",
        &all,
    );
    idx
}

#[test]
fn delete_then_save_leaves_nothing_of_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = corpus(true);
    let p = Principal::new("t").with_group("hr");
    assert_eq!(idx.search(&q("Borealis", 5), &p).hits.len(), 2);
    let terms_before = idx.term_count();
    assert_eq!(idx.delete_document("doc-a").unwrap(), 2);
    assert!(!idx.contains_document("doc-a"));
    assert_eq!(idx.len(), 2);
    assert!(idx.term_count() < terms_before);
    let r = idx.search(&q("Borealis memorandum acquisition", 5), &p);
    assert!(r.hits.iter().all(|h| h.document != "doc-a"));
    assert_eq!(ids(&r.hits), ["c#0"]);

    let path = idx.save(dir.path()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // No word of the document (or of its analysed terms), in any case.
    let lower = String::from_utf8_lossy(&bytes).to_lowercase();
    for w in DOC_A.split_whitespace().chain(["appendix", "doc-a", "a#0"]) {
        assert!(
            !lower.contains(&w.to_lowercase()),
            "{w} found in index file"
        );
    }
    for t in Analyzer::new(Some(Lang::En)).terms(DOC_A) {
        assert!(!lower.contains(&t), "term {t} found in index file");
    }
    // Byte for byte the file of an index that never saw the document: no
    // hash, length or statistic of it is left either.
    let other = tempfile::tempdir().unwrap();
    let never = corpus(false).save(other.path()).unwrap();
    assert_eq!(bytes, std::fs::read(never).unwrap());
    // Other documents' words are not in the file as text either.
    assert!(!lower.contains("holiday") && !lower.contains("parking"));
}

#[test]
fn legal_hold_blocks_deletion_until_lifted() {
    let mut idx = corpus(true);
    assert_eq!(idx.set_legal_hold("doc-a", true), 2);
    let e = idx.delete_document("doc-a").unwrap_err();
    assert!(matches!(e, Error::LegalHold { .. }));
    assert_eq!(idx.len(), 4);
    // Still retrievable while held.
    let p = Principal::new("t").with_group("hr");
    assert_eq!(idx.search(&q("Borealis", 5), &p).hits.len(), 2);
    idx.set_legal_hold("doc-a", false);
    assert_eq!(idx.delete_document("doc-a").unwrap(), 2);
    assert_eq!(idx.delete_document("doc-a").unwrap(), 0);
}

#[test]
fn save_load_round_trip_and_key_check() {
    let dir = tempfile::tempdir().unwrap();
    let idx = corpus(true);
    idx.save(dir.path()).unwrap();
    let loaded = Bm25Index::load(dir.path(), key()).unwrap();
    let p = Principal::new("t").with_group("hr");
    for text in ["memorandum", "staff borealis", "parking"] {
        assert_eq!(idx.search(&q(text, 5), &p), loaded.search(&q(text, 5), &p));
    }
    let e = Bm25Index::load(dir.path(), TermKey::new([0; 16])).unwrap_err();
    assert!(matches!(e, Error::WrongKey { .. }));
    let file = dir.path().join(INDEX_FILE);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&file, &bytes).unwrap();
    assert!(matches!(
        Bm25Index::load(dir.path(), key()),
        Err(Error::Corrupt { .. })
    ));
    std::fs::write(&file, b"not an index").unwrap();
    assert!(matches!(
        Bm25Index::load(dir.path(), key()),
        Err(Error::Corrupt { .. })
    ));
    assert!(matches!(
        Bm25Index::load(&dir.path().join("missing"), key()),
        Err(Error::Io { .. })
    ));
}

#[test]
fn language_is_guessed_per_chunk_and_query() {
    let mut idx = index();
    let l = Labels::tenant("t");
    for (id, text) in [
        ("fr", "Les enfants sont dans les jardins de la ville."),
        ("de", "Die Kinder sind in den Gärten der Stadt."),
    ] {
        idx.add(NewChunk {
            id,
            document: id,
            text,
            lang: None,
            labels: &l,
        })
        .unwrap();
    }
    let p = Principal::new("t");
    let fr = Query {
        text: "le jardin de l'enfant",
        lang: None,
        k: 1,
        min_score: 0.0,
    };
    assert_eq!(ids(&idx.search(&fr, &p).hits), ["fr"]);
    let de = Query {
        text: "der Garten",
        lang: Some(Lang::De),
        k: 1,
        min_score: 0.0,
    };
    assert_eq!(ids(&idx.search(&de, &p).hits), ["de"]);
}

// === Properties ===

const VOCAB: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
];

#[derive(Debug, Clone)]
struct Doc {
    words: Vec<usize>,
    tenant: u8,
    group: Option<u8>,
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        prop::collection::vec(0..VOCAB.len(), 1..12),
        0..2u8,
        prop::option::of(0..4u8),
    )
        .prop_map(|(words, tenant, group)| Doc {
            words,
            tenant,
            group,
        })
}

fn labels_of(d: &Doc) -> Labels {
    let mut l = Labels::tenant(format!("t{}", d.tenant));
    if let Some(g) = d.group {
        l = l.with_group(format!("g{g}"));
    }
    l
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn search_equals_brute_force_over_the_eligible_subset(
        docs in prop::collection::vec(doc(), 1..60),
        deletions in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        query in prop::collection::vec(0..VOCAB.len(), 1..4),
        tenant in 0..2u8,
        groups in prop::collection::btree_set(0..4u8, 0..3),
        k in 1..8usize,
    ) {
        let mut idx = index();
        for (i, d) in docs.iter().enumerate() {
            let text: Vec<&str> = d.words.iter().map(|&w| VOCAB[w]).collect();
            add(&mut idx, &format!("c{i}"), &format!("d{i}"), &text.join(" "), &labels_of(d));
        }
        let mut deleted = BTreeSet::new();
        for del in deletions {
            let i = del.index(docs.len());
            idx.delete_document(&format!("d{i}")).unwrap();
            deleted.insert(i);
        }
        let p = Principal {
            tenant: format!("t{tenant}"),
            groups: groups.iter().map(|g| format!("g{g}")).collect(),
            purpose: None,
        };
        let qtext: Vec<&str> = query.iter().map(|&w| VOCAB[w]).collect();
        let joined = qtext.join(" ");
        let query = q(&joined, k);
        let r = idx.search(&query, &p);

        // 1. Nothing ineligible or deleted comes back.
        for h in &r.hits {
            let i: usize = h.chunk[1..].parse().unwrap();
            prop_assert!(p.admits(&labels_of(&docs[i])), "ineligible {}", h.chunk);
            prop_assert!(!deleted.contains(&i));
        }
        // 2. Same ids, same order as scoring every eligible chunk.
        let brute = idx.brute_force(&query, |l| p.admits(l));
        prop_assert_eq!(ids(&r.hits), ids(&brute));
        for (a, b) in r.hits.iter().zip(&brute) {
            prop_assert!((a.score - b.score).abs() <= 1e-5 * a.score.abs().max(1.0));
        }
        // 3. k admissible hits whenever k eligible chunks match.
        let qs: BTreeSet<usize> = query_words(&qtext);
        let matching = |i: usize, d: &Doc| !deleted.contains(&i) && d.words.iter().any(|w| qs.contains(w));
        let eligible = docs.iter().enumerate().filter(|(i, d)| matching(*i, d) && p.admits(&labels_of(d))).count();
        prop_assert_eq!(r.hits.len(), eligible.min(k));
        // 4. Denied = matching chunks the principal may not see.
        let denied = docs.iter().enumerate().filter(|(i, d)| matching(*i, d) && !p.admits(&labels_of(d))).count();
        prop_assert_eq!(r.denied, denied);
        prop_assert_eq!(r.refusal.is_some(), eligible == 0);
    }
}

fn query_words(q: &[&str]) -> BTreeSet<usize> {
    q.iter()
        .map(|w| VOCAB.iter().position(|v| v == w).unwrap())
        .collect()
}
