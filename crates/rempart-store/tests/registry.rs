//! The data-subject registry on both backends: exact and partial search
//! with no plaintext in the database (the test greps a `pg_dump` and the
//! SQLite files), erasure that reaches every copy, conversations sealed
//! under the subject's key, and the key provider rotating under load
//! (local keyring always; a real OpenBao transit engine when
//! `REMPART_TEST_BAO_ADDR` is set — required under `CI=true`).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::Backend;
use rempart_crypto::kms::KeysConfig;
use rempart_crypto::{Aad, DataKey, KeyProvider, WrappedKey, open};
use rempart_store::registry::{Lookup, Profile, Registry, RegistryError, Settings};

const A: &str = "tenant-a";
const B: &str = "tenant-b";

on_both_backends_full!(
    search_without_plaintext,
    erasure_reaches_every_copy,
    conversations_keep_their_pseudonyms,
    rotation_under_load_local,
    rotation_under_load_transit,
);

async fn local_kms(dir: &std::path::Path) -> Arc<KeyProvider> {
    let opened = KeyProvider::from_config(&KeysConfig::default(), dir, &|_| None)
        .await
        .unwrap();
    assert!(opened.created.is_some(), "a fresh keyring is reported");
    Arc::new(opened.provider)
}

/// A transit provider against the test OpenBao, or `None` (skipped) when
/// no server is configured outside CI.
async fn transit_kms() -> Option<Arc<KeyProvider>> {
    let addr = match std::env::var("REMPART_TEST_BAO_ADDR") {
        Ok(a) if !a.is_empty() => a,
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "REMPART_TEST_BAO_ADDR is unset but CI=true: start OpenBao with `eval \"$(scripts/bao.sh)\"`"
                );
            }
            eprintln!(
                "SKIPPED: transit test (set REMPART_TEST_BAO_ADDR, `eval \"$(scripts/bao.sh)\"`)"
            );
            return None;
        }
    };
    let token = std::env::var("REMPART_TEST_BAO_TOKEN").unwrap_or_else(|_| "root".into());
    let key = format!("registry-{}", uuid::Uuid::new_v4().simple());
    let config = KeysConfig::Transit {
        address: addr,
        mount: "transit".into(),
        key,
        token: "env:TEST_BAO_TOKEN".into(),
        create_key: true,
        timeout_secs: 10,
    };
    let env = move |n: &str| (n == "TEST_BAO_TOKEN").then(|| token.clone());
    let opened = KeyProvider::from_config(&config, std::path::Path::new("/nonexistent"), &env)
        .await
        .expect("transit provider");
    Some(Arc::new(opened.provider))
}

fn marie() -> Profile {
    Profile {
        name: Some("Marie-Hélène Dupont".into()),
        emails: vec!["Marie.Dupont@Example.fr".into()],
        phones: vec!["+33 6 12 34 56 78".into()],
        ibans: vec!["FR76 3000 6000 0112 3456 7890 189".into()],
        national_ids: vec!["2 84 05 75 123 456 78".into()],
        external_ref: Some("CUST-000417".into()),
    }
}

fn jan() -> Profile {
    Profile {
        name: Some("Jan de Vries".into()),
        emails: vec!["jan.devries@voorbeeld.nl".into()],
        phones: vec!["+31 6 12345678".into()],
        ibans: vec!["NL91 ABNA 0417 1643 00".into()],
        national_ids: vec!["111222333".into()],
        external_ref: None,
    }
}

/// Every spelling of a planted value a careless store could hold.
const PLANTED: &[&str] = &[
    "Marie.Dupont@Example.fr",
    "marie.dupont@example.fr",
    "Dupont",
    "dupont",
    "Hélène",
    "helene",
    "+33612345678",
    "612345678",
    "FR7630006000011234567890189",
    "FR76 3000",
    "30006000011234567890189",
    "284057512345678",
    "84 05 75",
    "CUST-000417",
    "jan.devries@voorbeeld.nl",
    "Vries",
    "vries",
    "NL91ABNA0417164300",
    "0417164300",
    "111222333",
    "+31612345678",
];

/// Whether the bytes hold `needle`, as text or hex-encoded (`pg_dump`
/// writes `bytea` as hex: a plaintext in a bytea column reads as hex there).
fn contains(hay: &[u8], needle: &str) -> bool {
    let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
    [needle.as_bytes(), hex.as_bytes()]
        .iter()
        .any(|n| hay.windows(n.len()).any(|w| w == *n))
}

fn ids(found: &[rempart_store::registry::Found]) -> Vec<uuid::Uuid> {
    found.iter().map(|f| f.id).collect()
}

async fn search_without_plaintext(b: &Backend) {
    let keys = tempfile::tempdir().unwrap();
    let reg = Registry::new(
        b.store.clone(),
        local_kms(keys.path()).await,
        Settings::default(),
    );
    let m = reg.add(A, &marie()).await.unwrap();
    let j = reg.add(A, &jan()).await.unwrap();
    // The same person registered by another tenant is another subject.
    let m_b = reg.add(B, &marie()).await.unwrap();
    assert_ne!(m, m_b);

    let find = |l: Lookup| {
        let reg = &reg;
        async move { ids(&reg.find(A, &l).await.unwrap()) }
    };
    // Exact lookups, written differently from how they were stored.
    assert_eq!(
        find(Lookup::Email(" MARIE.dupont@example.FR ".into())).await,
        vec![m]
    );
    assert_eq!(
        find(Lookup::Phone("06 12 34 56 78".into())).await,
        vec![m],
        "national format, region FR"
    );
    assert_eq!(find(Lookup::Phone("0033612345678".into())).await, vec![m]);
    assert_eq!(
        find(Lookup::Iban("fr7630006000011234567890189".into())).await,
        vec![m]
    );
    assert_eq!(
        find(Lookup::NationalId("2.84.05.75.123.456-78".into())).await,
        vec![m]
    );
    assert_eq!(
        find(Lookup::ExternalRef("CUST-000417".into())).await,
        vec![m]
    );
    assert_eq!(
        find(Lookup::Iban("NL91ABNA0417164300".into())).await,
        vec![j]
    );
    // Partial names: prefixes of ≥ 3 letters, accents and case ignored.
    assert_eq!(find(Lookup::Name("dup".into())).await, vec![m]);
    assert_eq!(find(Lookup::Name("HELENE dupont".into())).await, vec![m]);
    assert_eq!(find(Lookup::Name("mar dup".into())).await, vec![m]);
    assert_eq!(find(Lookup::Name("vries".into())).await, vec![j]);
    // Misses.
    assert!(find(Lookup::Name("durand".into())).await.is_empty());
    assert!(
        find(Lookup::Name("marie vries".into())).await.is_empty(),
        "all words must match"
    );
    assert!(
        find(Lookup::Email("marie.dupont@example.com".into()))
            .await
            .is_empty()
    );
    // A lookup value that fails its checksum is refused, naming the field.
    let err = reg
        .find(A, &Lookup::Iban("FR7630006000011234567890180".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Invalid(_)) && err.to_string().contains("iban"),
        "{err}"
    );
    // Tenant B sees only its own registration.
    assert_eq!(
        ids(&reg
            .find(B, &Lookup::Email("marie.dupont@example.fr".into()))
            .await
            .unwrap()),
        vec![m_b]
    );
    assert!(
        reg.find(B, &Lookup::Name("vries".into()))
            .await
            .unwrap()
            .is_empty()
    );
    // A found profile is decrypted.
    let got = reg.get(A, m).await.unwrap();
    assert_eq!(got.profile, marie());

    // Bad input is named, without the value.
    let err = reg
        .add(
            A,
            &Profile {
                ibans: vec!["FR76 0000 BAD".into()],
                ..Profile::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Invalid(_)), "{err}");
    assert!(
        err.to_string().contains("iban") && !err.to_string().contains("BAD"),
        "{err}"
    );

    // No planted value, in any spelling, is in the database.
    let dump = b.dump().await;
    for v in PLANTED {
        assert!(
            !contains(&dump, v),
            "planted value {v:?} found in the database dump"
        );
    }
}

async fn erasure_reaches_every_copy(b: &Backend) {
    let keys = tempfile::tempdir().unwrap();
    let kms = local_kms(keys.path()).await;
    let reg = Registry::new(b.store.clone(), kms.clone(), Settings::default());
    let m = reg.add(A, &marie()).await.unwrap();
    let j = reg.add(A, &jan()).await.unwrap();
    // A conversation about Marie, with a pseudonym map and turns.
    let conv_id = uuid::Uuid::now_v7();
    let (conv, map) = reg.open_conversation(A, conv_id, Some(m)).await.unwrap();
    assert!(map.is_none());
    let mapping =
        br#"{"entries":[{"placeholder":"[[EMAIL_1]]","value":"marie.dupont@example.fr"}]}"#;
    reg.save_conversation(
        A,
        &conv,
        mapping,
        &[
            ("user", "Mon IBAN est FR76 3000 6000 0112 3456 7890 189"),
            ("assistant", "Bien reçu."),
        ],
    )
    .await
    .unwrap();

    let export = reg.export(A, m, vec!["0190-audit-1".into()]).await.unwrap();
    assert_eq!(export.profile, marie());
    assert_eq!(export.conversations.len(), 1);
    assert_eq!(export.conversations[0].turns.len(), 2);
    assert!(
        export.conversations[0].turns[0]
            .content
            .contains("FR76 3000")
    );
    assert_eq!(export.pseudonym_maps.len(), 1);
    assert_eq!(export.audit_records, vec!["0190-audit-1".to_string()]);

    // Copies of the ciphertexts, as a backup or an attacker would hold them.
    let before = b.store.get_subject(A, m).await.unwrap().unwrap();
    let profile_copy = before.profile.clone().unwrap();
    let turn_copy = b.store.list_turns(A, conv_id).await.unwrap()[0]
        .content
        .clone();

    let receipt = reg.erase(A, m).await.unwrap();
    assert_eq!(receipt.removed.wrapped_keys, 1);
    assert_eq!(receipt.removed.profiles, 1);
    assert_eq!(
        receipt.removed.index_rows, 5,
        "email, phone, iban, national id, external ref"
    );
    assert!(receipt.removed.tokens > 0);
    assert_eq!(
        (
            receipt.removed.conversations,
            receipt.removed.turns,
            receipt.removed.pseudonym_maps
        ),
        (1, 2, 1)
    );
    assert_eq!(receipt.remaining.total(), 0, "{receipt:?}");
    assert_eq!(receipt.lookup_hits_after, 0);

    // Export and every lookup return nothing.
    assert!(matches!(
        reg.export(A, m, vec![]).await,
        Err(RegistryError::Erased(_))
    ));
    for l in [
        Lookup::Email("marie.dupont@example.fr".into()),
        Lookup::Phone("+33612345678".into()),
        Lookup::Iban("FR7630006000011234567890189".into()),
        Lookup::NationalId("284057512345678".into()),
        Lookup::ExternalRef("CUST-000417".into()),
        Lookup::Name("dupont".into()),
    ] {
        assert!(
            reg.find(A, &l).await.unwrap().is_empty(),
            "lookup {} still finds",
            l.index_name()
        );
    }
    // The other subject is untouched.
    assert_eq!(reg.get(A, j).await.unwrap().profile, jan());
    // The wrapped key is gone: the copies no longer open with any key the
    // system still holds (the tenant keys), nor with a fresh one.
    let after = b.store.get_subject(A, m).await.unwrap().unwrap();
    assert!(after.wrapped_key.is_none() && after.profile.is_none());
    let row = m.to_string();
    let aad = Aad {
        tenant: A,
        table: "subjects",
        column: "profile",
        row: &row,
    };
    for name in ["blind-index-root", "conversation-key"] {
        if let Some(k) = b.store.get_tenant_key(A, name).await.unwrap() {
            let w = WrappedKey::parse(&k.wrapped).unwrap();
            let ctx = format!("rempart/registry/v1\0{A}\0tenant-key\0{name}");
            let key = kms.unwrap(&w, ctx.as_bytes()).await.unwrap();
            assert!(open(&key, &aad, &profile_copy).is_err());
            assert!(
                open(
                    &key,
                    &Aad {
                        tenant: A,
                        table: "turns",
                        column: "content",
                        row: &format!("{conv_id}/0")
                    },
                    &turn_copy
                )
                .is_err()
            );
        }
    }
    assert!(open(&DataKey::generate(), &aad, &profile_copy).is_err());
    // The tombstone is there, with no personal data.
    let tombs = b.store.list_erasures(A, m).await.unwrap();
    assert_eq!(tombs.len(), 1);
    assert!(!tombs[0].receipt.contains("Dupont"));
    // Erasing again: nothing left to remove, still zero remaining.
    let again = reg.erase(A, m).await.unwrap();
    assert_eq!(again.removed.total(), 0);
    assert_eq!(again.remaining.total(), 0);
    // The dump holds none of the subject's values.
    let dump = b.dump().await;
    for v in PLANTED.iter().filter(|v| {
        !v.contains("vries")
            && !v.contains("Vries")
            && !v.contains("NL91")
            && !v.contains("0417")
            && !v.contains("111222")
            && !v.contains("+316")
    }) {
        assert!(!contains(&dump, v), "{v:?} in the dump after erasure");
    }
}

async fn conversations_keep_their_pseudonyms(b: &Backend) {
    let keys = tempfile::tempdir().unwrap();
    let reg = Registry::new(
        b.store.clone(),
        local_kms(keys.path()).await,
        Settings::default(),
    );
    let conv_id = uuid::Uuid::now_v7();
    let (conv, none) = reg.open_conversation(A, conv_id, None).await.unwrap();
    assert!(none.is_none());
    reg.save_conversation(A, &conv, b"{\"v\":1}", &[("user", "bonjour")])
        .await
        .unwrap();
    let (conv2, map) = reg.open_conversation(A, conv_id, None).await.unwrap();
    assert_eq!(map.as_deref().map(Vec::as_slice), Some(&b"{\"v\":1}"[..]));
    reg.save_conversation(A, &conv2, b"{\"v\":2}", &[("user", "encore")])
        .await
        .unwrap();
    let turns = b.store.list_turns(A, conv_id).await.unwrap();
    assert_eq!(turns.iter().map(|t| t.seq).collect::<Vec<_>>(), vec![0, 1]);
    // Another tenant cannot open it (it is not there for them).
    let (_, other) = reg.open_conversation(B, conv_id, None).await.unwrap();
    assert!(other.is_none());
    // A subject that does not exist cannot be linked.
    let err = reg
        .open_conversation(A, uuid::Uuid::now_v7(), Some(uuid::Uuid::now_v7()))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::NotFound(_)), "{err}");
}

/// Adds and finds subjects from several tasks while the KEK rotates;
/// every operation must succeed, and every subject stays readable.
async fn rotation_under_load(b: &Backend, kms: Arc<KeyProvider>) {
    let reg = Arc::new(Registry::new(
        b.store.clone(),
        kms.clone(),
        Settings::default(),
    ));
    let ops = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..3u32 {
        let (reg, ops, stop) = (reg.clone(), ops.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) || n < 5 {
                let p = Profile {
                    emails: vec![format!("user{w}-{n}@example.eu")],
                    name: Some(format!("Worker{w} Person{n}")),
                    ..Profile::default()
                };
                let id = reg.add(A, &p).await.expect("add during rotation");
                mine.push((id, p));
                for (id, p) in mine.iter().rev().take(3) {
                    let found = reg
                        .find(A, &Lookup::Email(p.emails[0].clone()))
                        .await
                        .expect("find during rotation");
                    assert_eq!(ids(&found), vec![*id]);
                }
                ops.fetch_add(4, Ordering::Relaxed);
                n += 1;
            }
            mine
        }));
    }
    let mut versions = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        versions.push(kms.rotate().await.expect("rotate"));
    }
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.expect("no failed operation"));
    }
    assert!(versions.windows(2).all(|v| v[1] > v[0]), "{versions:?}");
    // Everything written before, during and after the rotations reads back.
    for (id, p) in &all {
        assert_eq!(&reg.get(A, *id).await.unwrap().profile, p);
    }
    eprintln!(
        "rotation under load: {} operations, 0 failed, {} subjects, KEK versions {versions:?}",
        ops.load(Ordering::Relaxed),
        all.len()
    );
}

async fn rotation_under_load_local(b: &Backend) {
    let keys = tempfile::tempdir().unwrap();
    rotation_under_load(b, local_kms(keys.path()).await).await;
}

async fn rotation_under_load_transit(b: &Backend) {
    let Some(kms) = transit_kms().await else {
        return;
    };
    rotation_under_load(b, kms).await;
}
