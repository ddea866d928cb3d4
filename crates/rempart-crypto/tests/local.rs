//! The local keyring provider, through the config-facing constructor, under
//! rotation while reads and writes continue.

mod common;

use std::sync::Arc;
use std::time::Duration;

use rempart_crypto::{DataKey, KeyProvider, KeysConfig};

fn no_env(_: &str) -> Option<String> {
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_keyring_rotates_while_reads_and_writes_continue() {
    let dir = tempfile::tempdir().unwrap();
    let opened = KeyProvider::from_config(&KeysConfig::default(), dir.path(), &no_env)
        .await
        .unwrap();
    let path = dir.path().join("keys/keyring");
    assert_eq!(
        opened.created.as_deref(),
        Some(path.as_path()),
        "caller is told"
    );
    let provider = Arc::new(opened.provider);
    assert_eq!(provider.describe().kind, "local");
    assert_eq!(provider.describe().current_version, 1);

    let counts =
        common::rotation_under_load(provider.clone(), 4, 5, Duration::from_millis(60)).await;
    println!("local keyring: {counts:?}");
    assert_eq!(counts.failures, 0, "{counts:?}");
    assert!(counts.wraps >= 100 && counts.unwraps >= 100, "{counts:?}");
    assert!(counts.rewraps >= 20, "{counts:?}");
    assert!(
        counts.versions_written.len() >= 3,
        "writes continued across rotations: {counts:?}"
    );
    assert_eq!(provider.describe().current_version, 6);

    // Reopening (a restart) keeps every version and does not recreate.
    let again = KeyProvider::from_config(&KeysConfig::default(), dir.path(), &no_env)
        .await
        .unwrap();
    assert!(again.created.is_none());
    assert_eq!(again.provider.describe().current_version, 6);
    let dk = DataKey::generate();
    let w = provider.wrap(&dk, b"tenant:x").await.unwrap();
    assert_eq!(again.provider.unwrap(&w, b"tenant:x").await.unwrap(), dk);
    assert!(again.provider.unwrap(&w, b"tenant:y").await.is_err());
}

#[tokio::test]
async fn env_provider_from_config() {
    let k = "11".repeat(32);
    let env = |n: &str| (n == "REMPART_KEK").then(|| format!("v4:{k}"));
    let cfg = KeysConfig::Env {
        key: "env:REMPART_KEK".into(),
        previous: None,
    };
    let opened = KeyProvider::from_config(&cfg, std::path::Path::new("/nonexistent"), &env)
        .await
        .unwrap();
    assert!(opened.created.is_none());
    let p = opened.provider;
    let dk = DataKey::generate();
    let w = p.wrap(&dk, b"c").await.unwrap();
    assert!(w.as_str().starts_with("env:v4:"), "{w}");
    assert_eq!(p.unwrap(&w, b"c").await.unwrap(), dk);
    assert!(p.rotate().await.is_err());
    let d = p.describe().to_string();
    assert!(d.contains("env:REMPART_KEK") && !d.contains(&k), "{d}");
    let inline = KeysConfig::Env {
        key: k.clone(),
        previous: None,
    };
    let e = KeyProvider::from_config(&inline, std::path::Path::new("/x"), &env)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        !e.contains(&k[..16]),
        "inline key refused without echo: {e}"
    );
}

/// The whole chain the subjects service will use: a per-subject data key
/// wrapped by the provider and stored as text, a value sealed for its row,
/// and a blind index computed under the tenant's index root key.
#[tokio::test]
async fn wrapped_data_key_seals_a_row_and_a_blind_index_finds_it() {
    use rempart_crypto::blind::{BlindIndex, FieldKind};
    use rempart_crypto::{Aad, WrappedKey, open, seal};

    let dir = tempfile::tempdir().unwrap();
    let kms = KeyProvider::from_config(&KeysConfig::default(), dir.path(), &no_env)
        .await
        .unwrap()
        .provider;
    let root = DataKey::generate();
    let root_stored = kms
        .wrap(&root, b"tenant:acme/index-root")
        .await
        .unwrap()
        .to_string();
    let subject_key = DataKey::generate();
    let key_stored = kms
        .wrap(&subject_key, b"tenant:acme/subject:42")
        .await
        .unwrap()
        .to_string();
    let aad = Aad {
        tenant: "acme",
        table: "subjects",
        column: "email",
        row: "42",
    };
    let cell = seal(&subject_key, &aad, b"jeanne.dupont@example.fr");
    let ix = BlindIndex::new(&root, "acme", "email", vec![FieldKind::Email], 18).unwrap();
    let stored_ix = ix.compute(&["jeanne.dupont@example.fr"]).unwrap();

    kms.rotate().await.unwrap();

    // Later, another process: read everything back from its text form.
    let kms2 = KeyProvider::from_config(&KeysConfig::default(), dir.path(), &no_env)
        .await
        .unwrap()
        .provider;
    let root2 = kms2
        .unwrap(
            &root_stored.parse::<WrappedKey>().unwrap(),
            b"tenant:acme/index-root",
        )
        .await
        .unwrap();
    let ix2 = BlindIndex::new(&root2, "acme", "email", vec![FieldKind::Email], 18).unwrap();
    assert_eq!(
        ix2.compute(&[" Jeanne.Dupont@EXAMPLE.fr"]).unwrap(),
        stored_ix
    );
    let k2 = kms2
        .unwrap(
            &key_stored.parse::<WrappedKey>().unwrap(),
            b"tenant:acme/subject:42",
        )
        .await
        .unwrap();
    assert_eq!(
        &open(&k2, &aad, &cell).unwrap()[..],
        b"jeanne.dupont@example.fr"
    );
    // The subject key wrapped for subject 42 does not open as subject 43's.
    assert!(
        kms2.unwrap(
            &key_stored.parse::<WrappedKey>().unwrap(),
            b"tenant:acme/subject:43"
        )
        .await
        .is_err()
    );
}
