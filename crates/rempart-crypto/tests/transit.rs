//! The OpenBao/Vault transit provider against a real OpenBao
//! (`eval "$(scripts/bao.sh)"` starts one and sets REMPART_TEST_BAO_ADDR).
//! Without REMPART_TEST_BAO_ADDR these tests say so and pass, except under
//! CI=true, where they fail.

mod common;

use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use rempart_crypto::kms::{Transit, TransitSettings};
use rempart_crypto::{DataKey, Error, KeyProvider, KeysConfig};
use secrecy::SecretString;

struct Bao {
    addr: String,
    token: String,
}

fn bao(test: &str) -> Option<Bao> {
    match std::env::var("REMPART_TEST_BAO_ADDR") {
        Ok(addr) if !addr.is_empty() => Some(Bao {
            addr,
            token: std::env::var("REMPART_TEST_BAO_TOKEN").unwrap_or_else(|_| "root".into()),
        }),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{test}: REMPART_TEST_BAO_ADDR is not set under CI=true; run `eval \"$(scripts/bao.sh)\"` first"
            )
        }
        _ => {
            // Straight to stderr: the test harness captures `eprintln!`.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: REMPART_TEST_BAO_ADDR is not set (run `eval \"$(scripts/bao.sh)\"` to test against a real OpenBao)"
            );
            None
        }
    }
}

fn fresh_key_name() -> String {
    let mut b = [0u8; 6];
    rand::rng().fill_bytes(&mut b);
    format!("rempart-test-{}", hex::encode(b))
}

async fn provider(b: &Bao, key: &str) -> KeyProvider {
    let token = b.token.clone();
    let env = move |n: &str| (n == "BAO_TOKEN").then(|| token.clone());
    let cfg = KeysConfig::Transit {
        address: b.addr.clone(),
        mount: "transit".into(),
        key: key.into(),
        token: "env:BAO_TOKEN".into(),
        create_key: true,
        timeout_secs: 10,
    };
    let opened = KeyProvider::from_config(&cfg, std::path::Path::new("/nonexistent"), &env)
        .await
        .unwrap();
    assert!(opened.created.is_none());
    opened.provider
}

#[tokio::test]
async fn transit_wraps_and_unwraps_only_under_the_same_context() {
    let Some(b) = bao("transit_wraps_and_unwraps_only_under_the_same_context") else {
        return;
    };
    let key = fresh_key_name();
    let p = provider(&b, &key).await;
    let d = p.describe();
    assert_eq!((d.kind, d.current_version), ("transit", 1));
    assert!(
        d.location.contains(&b.addr) && d.location.contains(&key),
        "{d}"
    );

    let dk = DataKey::generate();
    let w = p.wrap(&dk, b"tenant:acme/index-root").await.unwrap();
    assert!(w.as_str().starts_with("transit:v1:"), "{w}");
    assert_eq!(w.kek_version(), 1);
    // Stored as text, read back.
    let w: rempart_crypto::WrappedKey = w.as_str().parse().unwrap();
    assert_eq!(p.unwrap(&w, b"tenant:acme/index-root").await.unwrap(), dk);
    let wrong = p.unwrap(&w, b"tenant:globex/index-root").await;
    assert!(matches!(wrong, Err(Error::Decrypt)), "{wrong:?}");
    // Two wraps of one key differ; both unwrap.
    let w2 = p.wrap(&dk, b"tenant:acme/index-root").await.unwrap();
    assert_ne!(w, w2);
    assert_eq!(p.unwrap(&w2, b"tenant:acme/index-root").await.unwrap(), dk);
    // A key wrapped by another provider is refused by name.
    let e = p
        .unwrap(&"local:v1:QUJD".parse().unwrap(), b"x")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("`local`") && e.contains("`transit`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_rotates_while_reads_and_writes_continue() {
    let Some(b) = bao("transit_rotates_while_reads_and_writes_continue") else {
        return;
    };
    let p = Arc::new(provider(&b, &fresh_key_name()).await);
    let counts = common::rotation_under_load(p.clone(), 4, 4, Duration::from_millis(300)).await;
    println!("transit: {counts:?}");
    assert_eq!(counts.failures, 0, "{counts:?}");
    assert!(counts.wraps >= 50 && counts.unwraps >= 50, "{counts:?}");
    assert!(counts.rewraps >= 20, "{counts:?}");
    assert!(
        counts.versions_written.len() >= 3,
        "writes continued across rotations: {counts:?}"
    );
    assert_eq!(p.describe().current_version, 5);
}

#[tokio::test]
async fn transit_errors_name_the_address_and_never_the_token() {
    let Some(b) = bao("transit_errors_name_the_address_and_never_the_token") else {
        return;
    };
    let secret_token = "s.not-the-real-token-8c1f2e";
    let settings = |addr: &str, token: &str, key: &str| TransitSettings {
        address: addr.into(),
        mount: "transit".into(),
        key: key.into(),
        token: SecretString::from(token.to_owned()),
        create_key: true,
        timeout: Duration::from_secs(5),
    };
    // Wrong token: 403.
    let e = Transit::connect(settings(&b.addr, secret_token, &fresh_key_name()))
        .await
        .unwrap_err();
    let (msg, dbg) = (e.to_string(), format!("{e:?}"));
    println!("wrong token: {msg}");
    assert!(
        matches!(
            e,
            Error::Kms {
                status: Some(403),
                ..
            }
        ),
        "{dbg}"
    );
    assert!(msg.contains(&b.addr) && msg.contains("403"), "{msg}");
    assert!(
        !msg.contains(secret_token) && !dbg.contains(secret_token),
        "{msg}"
    );

    // Nothing listening: no status, the address named.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        format!("http://{a}")
    };
    let e = Transit::connect(settings(&closed, secret_token, "k"))
        .await
        .unwrap_err();
    let msg = e.to_string();
    println!("nothing listening: {msg}");
    assert!(matches!(e, Error::Kms { status: None, .. }), "{e:?}");
    assert!(
        msg.contains(&closed) && msg.contains("cannot connect"),
        "{msg}"
    );
    assert!(!msg.contains(secret_token), "{msg}");

    // Key absent and creation not allowed: 404, with a hint.
    let mut s = settings(&b.addr, &b.token, &fresh_key_name());
    s.create_key = false;
    let msg = Transit::connect(s).await.unwrap_err().to_string();
    println!("key absent: {msg}");
    assert!(msg.contains("404") && msg.contains(&b.addr), "{msg}");
    assert!(!msg.contains(&b.token) || b.token.len() < 5, "{msg}");

    // A key that is not `derived` would ignore the context: refused.
    let plain_key = fresh_key_name();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/transit/keys/{plain_key}", b.addr))
        .header("X-Vault-Token", &b.token)
        .body(r#"{"type":"aes256-gcm96"}"#)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let msg = Transit::connect(settings(&b.addr, &b.token, &plain_key))
        .await
        .unwrap_err()
        .to_string();
    println!("not derived: {msg}");
    assert!(msg.contains("not `derived`"), "{msg}");

    // A path-like key name is refused before any request.
    assert!(
        Transit::connect(settings(&b.addr, &b.token, "../sys"))
            .await
            .is_err()
    );
}
