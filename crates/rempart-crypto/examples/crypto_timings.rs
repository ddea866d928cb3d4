//! Rough per-operation timings: seal/open, blind index and name tokens,
//! local wrap/unwrap, and transit wrap/unwrap when REMPART_TEST_BAO_ADDR is
//! set. Run in release:
//!
//!     cargo run --release -p rempart-crypto --example crypto_timings
//!
//! Wall-clock on a shared machine: read the orders of magnitude and the
//! p50/p99 of the HTTP calls, not the digits.

use std::time::{Duration, Instant};

use rempart_crypto::blind::{BlindIndex, FieldKind, NameTokens};
use rempart_crypto::{Aad, DataKey, KeyProvider, KeysConfig, open, seal};

fn per_op(n: u32, mut f: impl FnMut(u32)) -> Duration {
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    t.elapsed() / n
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dk = DataKey::generate();
    let aad = Aad {
        tenant: "acme",
        table: "subjects",
        column: "email",
        row: "0190f3c2-7d1e-7a3b-9c4d-5e6f7a8b9c0d",
    };
    let value = b"jeanne.dupont@example.fr";
    let sealed = seal(&dk, &aad, value);
    println!(
        "seal (24 B)            {:>10.2?}",
        per_op(100_000, |_| {
            std::hint::black_box(seal(&dk, &aad, value));
        })
    );
    println!(
        "open (24 B)            {:>10.2?}",
        per_op(100_000, |_| {
            std::hint::black_box(open(&dk, &aad, &sealed).unwrap());
        })
    );
    let email = BlindIndex::new(&dk, "acme", "email", vec![FieldKind::Email], 18).unwrap();
    println!(
        "blind index e-mail     {:>10.2?}",
        per_op(100_000, |_| {
            std::hint::black_box(email.compute(&["Jeanne.Dupont@example.fr"]).unwrap());
        })
    );
    let phone = BlindIndex::new(
        &dk,
        "acme",
        "phone",
        vec![FieldKind::Phone {
            default_region: "FR".into(),
        }],
        18,
    )
    .unwrap();
    println!(
        "blind index phone      {:>10.2?}",
        per_op(20_000, |_| {
            std::hint::black_box(phone.compute(&["06 12 34 56 78"]).unwrap());
        })
    );
    let tokens = NameTokens::new(&dk, "acme", "name", 22).unwrap();
    println!(
        "name tokens (stored)   {:>10.2?}",
        per_op(20_000, |_| {
            std::hint::black_box(tokens.tokens("Jeanne-Marie Dupont-Lefèvre").unwrap());
        })
    );

    let dir = tempfile::tempdir().unwrap();
    let local = KeyProvider::from_config(&KeysConfig::default(), dir.path(), &|_| None)
        .await
        .unwrap()
        .provider;
    let w = local.wrap(&dk, b"tenant:acme").await.unwrap();
    let t = Instant::now();
    for _ in 0..20_000 {
        std::hint::black_box(local.wrap(&dk, b"tenant:acme").await.unwrap());
    }
    println!("local wrap             {:>10.2?}", t.elapsed() / 20_000);
    let t = Instant::now();
    for _ in 0..20_000 {
        std::hint::black_box(local.unwrap(&w, b"tenant:acme").await.unwrap());
    }
    println!("local unwrap           {:>10.2?}", t.elapsed() / 20_000);

    let Ok(addr) = std::env::var("REMPART_TEST_BAO_ADDR") else {
        println!("transit: skipped (REMPART_TEST_BAO_ADDR not set)");
        return;
    };
    let token = std::env::var("REMPART_TEST_BAO_TOKEN").unwrap_or_else(|_| "root".into());
    let cfg = KeysConfig::Transit {
        address: addr,
        mount: "transit".into(),
        key: "rempart-timings".into(),
        token: "env:T".into(),
        create_key: true,
        timeout_secs: 10,
    };
    let env = move |n: &str| (n == "T").then(|| token.clone());
    let transit = KeyProvider::from_config(&cfg, dir.path(), &env)
        .await
        .unwrap()
        .provider;
    let mut wraps = Vec::new();
    let mut unwraps = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        let w = transit.wrap(&dk, b"tenant:acme").await.unwrap();
        wraps.push(t.elapsed());
        let t = Instant::now();
        transit.unwrap(&w, b"tenant:acme").await.unwrap();
        unwraps.push(t.elapsed());
    }
    println!(
        "transit wrap   p50 {:>9.2?}  p99 {:>9.2?}",
        pct(wraps.clone(), 0.5),
        pct(wraps, 0.99)
    );
    println!(
        "transit unwrap p50 {:>9.2?}  p99 {:>9.2?}",
        pct(unwraps.clone(), 0.5),
        pct(unwraps, 0.99)
    );
}
