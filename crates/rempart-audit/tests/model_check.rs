//! Model-based test (vector `model_check` style): random appends and
//! checkpoints on a real log, then random tamperings of its files; `verify()`
//! must agree with a reference model on whether the log is intact and on the
//! first bad entry.

mod common;

use common::*;
use proptest::prelude::*;
use rempart_audit::{Failure, Location, verify};

#[derive(Debug, Clone)]
enum Op {
    Append(u8),
    Checkpoint,
}

#[derive(Debug, Clone)]
enum Tamper {
    Flip { at: usize, pos: usize, delta: u8 },
    Delete(usize),
    Swap(usize),
    InsertCopy { from: usize, at: usize },
    Truncate(usize),
    ForgeCheckpoint(usize),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![4 => (1u8..6).prop_map(Op::Append), 1 => Just(Op::Checkpoint)],
        1..12,
    )
}

fn tampers() -> impl Strategy<Value = Vec<Tamper>> {
    let t = prop_oneof![
        3 => (any::<usize>(), any::<usize>(), 1u8..=255).prop_map(|(at, pos, delta)| Tamper::Flip { at, pos, delta }),
        1 => any::<usize>().prop_map(Tamper::Delete),
        1 => any::<usize>().prop_map(Tamper::Swap),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(from, at)| Tamper::InsertCopy { from, at }),
        1 => any::<usize>().prop_map(Tamper::Truncate),
        1 => any::<usize>().prop_map(Tamper::ForgeCheckpoint),
    ];
    prop::collection::vec(t, 0..3)
}

/// The reference model: each line position holds the original entry of some
/// seq, or something corrupt; checkpoints are sizes, some forged.
#[derive(Debug, PartialEq)]
enum Expect {
    Ok,
    Entry(u64),
    Truncated(u64),
    BadCheckpoint(usize),
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Token {
    Original(u64),
    Corrupt,
}

fn model(tokens: &[Token], checkpoints: &[u64], forged: &[usize]) -> Expect {
    if let Some(&i) = forged.iter().min() {
        return Expect::BadCheckpoint(i);
    }
    for (p, t) in tokens.iter().enumerate() {
        if *t != Token::Original(p as u64) {
            return Expect::Entry(p as u64);
        }
    }
    match checkpoints.iter().find(|&&c| c > tokens.len() as u64) {
        Some(&c) => Expect::Truncated(c),
        None => Expect::Ok,
    }
}

fn observed(r: Result<rempart_audit::VerifyReport, rempart_audit::VerifyError>) -> Expect {
    match r {
        Ok(_) => Expect::Ok,
        Err(e) => match (&e.failure, &e.location) {
            (
                Failure::Truncated {
                    checkpoint_size, ..
                },
                _,
            ) => Expect::Truncated(*checkpoint_size),
            (Failure::BadSignature, Location::Checkpoint { index, .. }) => {
                Expect::BadCheckpoint(*index)
            }
            (_, Location::Entry { seq, .. }) => Expect::Entry(*seq),
            _ => panic!("unexpected verification error: {e}"),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn verify_agrees_with_the_model(ops in ops(), tampers in tampers()) {
        let dir = tempfile::tempdir().unwrap();
        // Checkpoints only when asked; small segments so files roll.
        let log = open(dir.path(), u64::MAX, 3);
        let mut n = 0u64;
        let mut checkpoints: Vec<u64> = Vec::new();
        for op in &ops {
            match op {
                Op::Append(k) => for _ in 0..*k {
                    prop_assert_eq!(log.append(record(n)).unwrap().seq, n);
                    n += 1;
                },
                Op::Checkpoint => {
                    let cp = log.checkpoint().unwrap();
                    if checkpoints.last().copied().unwrap_or(0) < n {
                        prop_assert_eq!(cp.map(|c| c.size), Some(n));
                        checkpoints.push(n);
                    } else {
                        prop_assert!(cp.is_none());
                    }
                }
            }
        }
        drop(log); // no final checkpoint: the unsigned tail is part of the model
        prop_assert_eq!(observed(verify(dir.path(), &key().verifying_key(), None)), Expect::Ok);

        let mut segs = segments(dir.path());
        let sizes: Vec<usize> = segs.iter().map(|s| s.1.len()).collect();
        let mut lines: Vec<Vec<u8>> = segs.iter().flat_map(|s| s.1.clone()).collect();
        let mut tokens: Vec<Token> = (0..n).map(Token::Original).collect();
        let mut forged = Vec::new();
        let cp_path = dir.path().join("checkpoints.jsonl");
        let mut cps: Vec<rempart_audit::CheckpointRecord> = std::fs::read_to_string(&cp_path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for t in &tampers {
            let len = lines.len();
            match *t {
                Tamper::Flip { at, pos, delta } if len > 0 => {
                    let at = at % len;
                    let pos = pos % lines[at].len();
                    lines[at][pos] ^= delta;
                    tokens[at] = Token::Corrupt;
                }
                Tamper::Delete(i) if len > 0 => {
                    lines.remove(i % len);
                    tokens.remove(i % len);
                }
                Tamper::Swap(i) if len > 1 => {
                    let i = i % (len - 1);
                    lines.swap(i, i + 1);
                    tokens.swap(i, i + 1);
                }
                Tamper::InsertCopy { from, at } if len > 0 => {
                    let (from, at) = (from % len, at % (len + 1));
                    let l = lines[from].clone();
                    let tk = tokens[from];
                    lines.insert(at, l);
                    tokens.insert(at, tk);
                }
                Tamper::Truncate(k) => {
                    let k = k % (len + 1);
                    lines.truncate(k);
                    tokens.truncate(k);
                }
                Tamper::ForgeCheckpoint(c) if !cps.is_empty() => {
                    let c = c % cps.len();
                    let cp = rempart_audit::Checkpoint::open(&cps[c].note, &key().verifying_key());
                    if let Ok(cp) = cp {
                        cps[c].note = rempart_audit::note::sign(cp.origin(), cp.size(), cp.root(), &other_key());
                        forged.push(c);
                    }
                }
                _ => {}
            }
        }
        // Write back with the same file split (the rest into the last file).
        let mut it = lines.into_iter();
        let nseg = segs.len();
        for (i, s) in segs.iter_mut().enumerate() {
            s.1 = if i + 1 == nseg { it.by_ref().collect() } else { it.by_ref().take(sizes[i]).collect() };
        }
        write_segments(&segs);
        let text: String = cps.iter().map(|c| serde_json::to_string(c).unwrap() + "\n").collect();
        std::fs::write(&cp_path, text).unwrap();

        let want = model(&tokens, &checkpoints, &forged);
        let got = observed(verify(dir.path(), &key().verifying_key(), None));
        prop_assert_eq!(got, want, "ops {:?} tampers {:?}", ops, tampers);
    }
}
