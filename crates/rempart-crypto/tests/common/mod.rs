//! The rotation-under-load scenario, run against each key provider.

// `is_multiple_of` needs Rust 1.87; the workspace supports 1.85.
#![allow(clippy::manual_is_multiple_of)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rempart_crypto::{DataKey, KeyProvider, WrappedKey};

/// Every (context, data key, wrapped key) produced during a run.
type Pool = Arc<Mutex<Vec<(Vec<u8>, DataKey, WrappedKey)>>>;

/// What a run did.
#[derive(Debug, Default)]
pub struct Counts {
    pub wraps: u64,
    pub unwraps: u64,
    pub rewraps: u64,
    pub failures: u64,
    pub versions_written: std::collections::BTreeSet<u32>,
}

/// `workers` tasks wrap fresh data keys and unwrap earlier ones in a loop
/// while another task rotates the KEK `rotations` times and rewraps old
/// wrapped keys after each rotation. Every operation is checked (an unwrap
/// must give back the very key wrapped); every error or mismatch is counted.
pub async fn rotation_under_load(
    provider: Arc<KeyProvider>,
    workers: usize,
    rotations: u32,
    pause: Duration,
) -> Counts {
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    // Every (context, data key, wrapped) ever produced, for the rotator and
    // the final check.
    let pool: Pool = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (provider, stop, failures, pool) = (
            provider.clone(),
            stop.clone(),
            failures.clone(),
            pool.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let ctx = format!("tenant:t{w}/index-root").into_bytes();
            let mut mine: Vec<(DataKey, WrappedKey)> = Vec::new();
            let (mut wraps, mut unwraps) = (0u64, 0u64);
            let mut versions = std::collections::BTreeSet::new();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let dk = DataKey::generate();
                match provider.wrap(&dk, &ctx).await {
                    Ok(wk) => {
                        wraps += 1;
                        versions.insert(wk.kek_version());
                        pool.lock()
                            .unwrap()
                            .push((ctx.clone(), dk.clone(), wk.clone()));
                        mine.push((dk, wk));
                    }
                    Err(e) => {
                        eprintln!("wrap failed: {e}");
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if !mine.is_empty() {
                    // Alternate between the oldest keys and recent ones.
                    let j = if i % 2 == 0 {
                        i / 2 % mine.len()
                    } else {
                        mine.len() - 1
                    };
                    let (dk, wk) = &mine[j];
                    match provider.unwrap(wk, &ctx).await {
                        Ok(got) if &got == dk => unwraps += 1,
                        Ok(_) => {
                            eprintln!("unwrap gave another key");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("unwrap failed: {e}");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                i += 1;
                tokio::task::yield_now().await;
            }
            (wraps, unwraps, versions)
        }));
    }

    let mut rewraps = 0u64;
    let start_version = provider.describe().current_version;
    for r in 1..=rotations {
        tokio::time::sleep(pause).await;
        match provider.rotate().await {
            Ok(v) => assert_eq!(v, start_version + r, "rotation {r} gave v{v}"),
            Err(e) => {
                eprintln!("rotate failed: {e}");
                failures.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        // Rewrap up to 20 keys wrapped under older versions.
        let old: Vec<_> = pool
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, wk)| wk.kek_version() < start_version + r)
            .take(20)
            .cloned()
            .collect();
        for (ctx, dk, wk) in old {
            match provider.rewrap(&wk, &ctx).await {
                Ok(new) if new.kek_version() >= start_version + r => {
                    match provider.unwrap(&new, &ctx).await {
                        Ok(got) if got == dk => rewraps += 1,
                        other => {
                            eprintln!(
                                "rewrapped key does not unwrap to the same key: {:?}",
                                other.err()
                            );
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Ok(new) => {
                    eprintln!("rewrap stayed at v{}", new.kek_version());
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    eprintln!("rewrap failed: {e}");
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    tokio::time::sleep(pause).await;
    stop.store(true, Ordering::Relaxed);
    let mut counts = Counts {
        rewraps,
        ..Counts::default()
    };
    for t in tasks {
        let (w, u, v) = t.await.expect("worker task");
        counts.wraps += w;
        counts.unwraps += u;
        counts.versions_written.extend(v);
    }

    // After the rotations every key ever wrapped still unwraps, under
    // whichever version wrapped it, and rewrap moves it to the last one.
    let last = start_version + rotations;
    let all = pool.lock().unwrap().clone();
    for (n, (ctx, dk, wk)) in all.iter().enumerate() {
        match provider.unwrap(wk, ctx).await {
            Ok(got) if &got == dk => {}
            other => {
                eprintln!(
                    "final unwrap of v{} failed: {:?}",
                    wk.kek_version(),
                    other.err()
                );
                failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Rewrap a sample of them (all of the oldest version).
        if wk.kek_version() == start_version || n % 25 == 0 {
            match provider.rewrap(wk, ctx).await {
                Ok(new) if new.kek_version() == last => {
                    let ok = provider.unwrap(&new, ctx).await.is_ok_and(|g| &g == dk);
                    if ok {
                        counts.rewraps += 1;
                    } else {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                other => {
                    eprintln!("final rewrap failed: {:?}", other.map(|w| w.kek_version()));
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    counts.failures = failures.load(Ordering::Relaxed);
    counts
}
