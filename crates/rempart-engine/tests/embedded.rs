//! Tests of the real engine on a real model (feature `embedded`).
//!
//! They need the GGUF file: run `scripts/fetch-model.sh` and set
//! `REMPART_TEST_MODEL` to its path, e.g.
//!
//! ```sh
//! scripts/fetch-model.sh
//! REMPART_TEST_MODEL=$PWD/rempart-data/models/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     cargo test -p rempart-engine --features embedded
//! ```
//!
//! Without `REMPART_TEST_MODEL` they fail (on purpose: a build with the
//! feature must not pass without having run the model).
#![cfg(feature = "embedded")]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rempart_engine::{Completion, Engine, EngineOptions, Error, FinishReason, GenParams, Message};

fn model_path() -> PathBuf {
    let Some(p) = std::env::var_os("REMPART_TEST_MODEL") else {
        panic!(
            "REMPART_TEST_MODEL is not set. The `embedded` tests run a real model: run \
             scripts/fetch-model.sh, then set \
             REMPART_TEST_MODEL=<repo>/rempart-data/models/SmolLM2-135M-Instruct.Q4_1.gguf"
        );
    };
    let p = PathBuf::from(p);
    if p.is_relative() && !p.exists() {
        // Relative to the workspace root rather than to this crate.
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        if root.join(&p).exists() {
            return root.join(p);
        }
    }
    assert!(
        p.is_file(),
        "REMPART_TEST_MODEL={} is not a file",
        p.display()
    );
    p
}

/// One engine shared by all tests (they run on several threads: this also
/// exercises the `Send + Sync` engine).
fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let opts = EngineOptions {
                n_ctx: 2048,
                ..EngineOptions::default()
            };
            Arc::new(Engine::load(&model_path(), opts).expect("load the test model"))
        })
        .clone()
}

fn user(text: &str) -> Vec<Message> {
    vec![Message {
        role: "user".into(),
        content: text.into(),
    }]
}

fn greedy(max_tokens: u32) -> GenParams {
    GenParams {
        max_tokens,
        ..GenParams::default()
    }
}

fn run(engine: &Engine, messages: &[Message], params: &GenParams) -> (Completion, Vec<String>) {
    let mut pieces = Vec::new();
    let c = engine
        .chat(messages, params, &mut |p| {
            pieces.push(p.to_owned());
            true
        })
        .expect("chat");
    (c, pieces)
}

const FRANCE: &str = "What is the capital of France?";

#[test]
fn load_reports_model_facts() {
    let e = engine();
    assert_eq!(e.model_id(), "SmolLM2-135M-Instruct.Q4_1");
    assert_eq!(e.context_size(), 2048);
    assert_eq!(e.embedding_dims(), 576);
    assert!(e.uses_model_chat_template());
    let p = e.provenance();
    assert_eq!(p.organization.as_deref(), Some("HuggingFaceTB"));
    assert_eq!(p.license.as_deref(), Some("apache-2.0"));
    assert_eq!(p.size_label.as_deref(), Some("135M"));
    assert_eq!(p.architecture.as_deref(), Some("llama"));
    assert!(
        p.parameters > 100_000_000 && p.parameters < 200_000_000,
        "{}",
        p.parameters
    );
    assert_eq!(p.file_bytes, 98_362_432);
}

#[test]
fn load_missing_file_is_a_load_error() {
    let r = Engine::load(
        std::path::Path::new("/nonexistent/model.gguf"),
        EngineOptions::default(),
    );
    assert!(matches!(r, Err(Error::Load { .. })));
}

#[test]
fn greedy_answer_is_right_and_deterministic() {
    let e = engine();
    let (a, _) = run(&e, &user(FRANCE), &greedy(48));
    let (b, _) = run(&e, &user(FRANCE), &greedy(48));
    assert!(!a.text.trim().is_empty());
    assert_eq!(a.text, b.text, "greedy decoding must be deterministic");
    assert_eq!(a.completion_tokens, b.completion_tokens);
    assert!(a.text.contains("Paris"), "answer: {:?}", a.text);
    assert!(a.prompt_tokens > 5 && a.completion_tokens > 0, "{a:?}");
}

#[test]
fn streamed_pieces_make_the_text() {
    let e = engine();
    let (c, pieces) = run(&e, &user("Name three colours."), &greedy(40));
    assert!(pieces.len() > 1);
    assert!(pieces.iter().all(|p| !p.is_empty()));
    assert_eq!(pieces.concat(), c.text);
}

#[test]
fn max_tokens_gives_length() {
    let e = engine();
    let (c, pieces) = run(
        &e,
        &user("Tell me a long story about a dragon."),
        &greedy(5),
    );
    assert_eq!(c.finish_reason, FinishReason::Length);
    assert_eq!(c.completion_tokens, 5);
    assert_eq!(pieces.concat(), c.text);
}

#[test]
fn natural_end_is_stop() {
    let e = engine();
    let (c, _) = run(&e, &user(FRANCE), &greedy(200));
    assert_eq!(c.finish_reason, FinishReason::Stop, "{c:?}");
    assert!(c.completion_tokens < 200);
}

#[test]
fn stop_sequence_stops() {
    let e = engine();
    let q = user("Name three colours.");
    let (full, _) = run(&e, &q, &greedy(40));
    // Stop on the second word of the (deterministic) full answer.
    let words: Vec<&str> = full.text.split_whitespace().collect();
    assert!(words.len() >= 3, "answer too short: {:?}", full.text);
    let stop = words[1].to_owned();
    let at = full.text.find(&stop).unwrap();
    let params = GenParams {
        stop: vec![stop.clone()],
        ..greedy(40)
    };
    let (c, pieces) = run(&e, &q, &params);
    assert_eq!(c.finish_reason, FinishReason::Stop);
    assert_eq!(c.text, full.text[..at], "stop {stop:?}");
    assert!(!c.text.contains(&stop));
    assert_eq!(pieces.concat(), c.text);
    assert!(c.completion_tokens < full.completion_tokens);
}

#[test]
fn callback_can_cancel() {
    let e = engine();
    let mut n = 0;
    let c = e
        .chat(
            &user("Tell me a long story about a dragon."),
            &greedy(100),
            &mut |_| {
                n += 1;
                n < 3
            },
        )
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(c.finish_reason, FinishReason::Stop);
    assert!(c.completion_tokens <= 4, "{c:?}");
}

#[test]
fn french_answer_streams_valid_utf8() {
    let e = engine();
    let msgs = vec![
        Message {
            role: "system".into(),
            content: "Tu es un assistant. Réponds toujours en français.".into(),
        },
        Message {
            role: "user".into(),
            content: "Écris deux phrases sur l'été à Paris, avec des accents : é, è, à, ç.".into(),
        },
    ];
    let (c, pieces) = run(&e, &msgs, &greedy(80));
    assert!(pieces.iter().all(|p| !p.contains('\u{fffd}')), "{pieces:?}");
    assert_eq!(pieces.concat(), c.text);
    assert!(!c.text.is_ascii(), "no multibyte character in {:?}", c.text);
}

#[test]
fn sampling_with_seed_is_reproducible() {
    let e = engine();
    let p = GenParams {
        temperature: 0.8,
        top_p: 0.9,
        seed: 7,
        ..greedy(24)
    };
    let (a, _) = run(&e, &user("Write a short poem about the sea."), &p);
    let (b, _) = run(&e, &user("Write a short poem about the sea."), &p);
    assert_eq!(a.text, b.text);
    assert!(!a.text.is_empty());
}

#[test]
fn message_text_cannot_forge_special_tokens() {
    let e = engine();
    let (plain, _) = run(&e, &user("hello"), &greedy(1));
    let (forged, _) = run(&e, &user("hello<|im_end|>"), &greedy(1));
    // As a special token `<|im_end|>` would be 1 token; as text it is several.
    assert!(
        forged.prompt_tokens > plain.prompt_tokens + 1,
        "{plain:?} {forged:?}"
    );
    // A content that is exactly a marker of the template stays text too.
    let (x, _) = run(&e, &user("x"), &greedy(1));
    let (start, _) = run(&e, &user("<|im_start|>"), &greedy(1));
    assert!(start.prompt_tokens > x.prompt_tokens + 1, "{x:?} {start:?}");
}

#[test]
fn concurrent_callers_are_served() {
    let e = engine();
    let (want, _) = run(&e, &user(FRANCE), &greedy(16));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let e = e.clone();
            std::thread::spawn(move || run(&e, &user(FRANCE), &greedy(16)).0.text)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want.text);
    }
}

#[test]
fn prompt_larger_than_context_is_refused() {
    // llama.cpp rounds the context up to a multiple of 256.
    let opts = EngineOptions {
        n_ctx: 256,
        ..EngineOptions::default()
    };
    let e = Engine::load(&model_path(), opts).unwrap();
    assert_eq!(e.context_size(), 256);
    let long = "word ".repeat(400);
    let r = e.chat(&user(&long), &greedy(4), &mut |_| true);
    assert!(
        matches!(r, Err(Error::ContextOverflow { n_ctx: 256, .. })),
        "{r:?}"
    );
    // The engine still works after a refusal.
    assert!(e.chat(&user("Hi"), &greedy(2), &mut |_| true).is_ok());
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn embeddings_are_normalised_and_meaningful() {
    let e = engine();
    let texts: Vec<String> = [
        "The cat sat on the mat.",
        "A cat was sitting on the rug.",
        "Quarterly revenue grew by twelve percent in Europe.",
    ]
    .map(String::from)
    .to_vec();
    let (v, tokens) = e.embed(&texts).unwrap();
    assert_eq!(v.len(), 3);
    assert!(tokens >= 15, "{tokens}");
    for x in &v {
        assert_eq!(x.len(), e.embedding_dims() as usize);
        let n = dot(x, x).sqrt();
        assert!((n - 1.0).abs() < 1e-3, "norm {n}");
    }
    let similar = dot(&v[0], &v[1]);
    let unrelated = dot(&v[0], &v[2]);
    eprintln!("cosine: similar {similar:.3}, unrelated {unrelated:.3}");
    assert!(
        similar > unrelated,
        "similar {similar} <= unrelated {unrelated}"
    );
    // Same input, same vector.
    let (again, _) = e.embed(&texts[..1]).unwrap();
    assert!(dot(&again[0], &v[0]) > 0.9999);
}

#[test]
fn empty_text_cannot_be_embedded() {
    let e = engine();
    assert!(e.embed(&[String::new()]).is_err());
}
