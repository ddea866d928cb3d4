//! OpenAI-shaped JSON the mock sends. Built with `json!` on purpose: the mock
//! checks the gateway's wire types, so it must not share them.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::script::ToolCall;

/// Fields shared by every chunk and the completion of one response.
pub(crate) struct Meta {
    pub id: String,
    pub created: u64,
    pub model: String,
}

impl Meta {
    pub fn new(n: u64, model: String) -> Self {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Meta {
            id: format!("chatcmpl-mock-{n}"),
            created,
            model,
        }
    }
}

pub(crate) fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}

fn tool_call_id(i: usize) -> String {
    format!("call_mock_{i}")
}

/// A full `chat.completion` object.
pub(crate) fn completion(meta: &Meta, content: &str, tools: &[ToolCall], usage_v: Value) -> Value {
    let (message, finish) = if tools.is_empty() {
        (json!({"role": "assistant", "content": content}), "stop")
    } else {
        let calls: Vec<Value> = tools
            .iter()
            .enumerate()
            .map(|(i, t)| {
                json!({
                    "id": tool_call_id(i),
                    "type": "function",
                    "function": {"name": t.name, "arguments": t.arguments},
                })
            })
            .collect();
        (
            json!({"role": "assistant", "content": null, "tool_calls": calls}),
            "tool_calls",
        )
    };
    json!({
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage_v,
    })
}

fn chunk(meta: &Meta, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
    })
}

/// `data: …\n\n`
pub(crate) fn sse(v: &Value) -> Bytes {
    let mut out = b"data: ".to_vec();
    // Serialising a `Value` cannot fail.
    serde_json::to_writer(&mut out, v).unwrap_or_default();
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

pub(crate) const DONE: &[u8] = b"data: [DONE]\n\n";

/// Every SSE event of a streamed reply, `[DONE]` included.
pub(crate) fn stream_events(
    meta: &Meta,
    deltas: &[String],
    tools: &[ToolCall],
    usage_v: Option<Value>,
) -> Vec<Bytes> {
    let mut ev = Vec::with_capacity(deltas.len() + 4);
    if tools.is_empty() {
        ev.push(sse(&chunk(
            meta,
            json!({"role": "assistant", "content": ""}),
            None,
        )));
        for d in deltas {
            ev.push(sse(&chunk(meta, json!({"content": d}), None)));
        }
        ev.push(sse(&chunk(meta, json!({}), Some("stop"))));
    } else {
        ev.push(sse(&chunk(
            meta,
            json!({"role": "assistant", "content": null}),
            None,
        )));
        for (i, t) in tools.iter().enumerate() {
            ev.push(sse(&chunk(
                meta,
                json!({"tool_calls": [{
                    "index": i,
                    "id": tool_call_id(i),
                    "type": "function",
                    "function": {"name": t.name, "arguments": ""},
                }]}),
                None,
            )));
            for piece in split_n(&t.arguments, 3) {
                ev.push(sse(&chunk(
                    meta,
                    json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                    None,
                )));
            }
        }
        ev.push(sse(&chunk(meta, json!({}), Some("tool_calls"))));
    }
    if let Some(u) = usage_v {
        ev.push(sse(&json!({
            "id": meta.id,
            "object": "chat.completion.chunk",
            "created": meta.created,
            "model": meta.model,
            "choices": [],
            "usage": u,
        })));
    }
    ev.push(Bytes::from_static(DONE));
    ev
}

/// Split `s` into at most `parts` non-empty pieces on char boundaries.
fn split_n(s: &str, parts: usize) -> Vec<&str> {
    let n = s.chars().count();
    if n == 0 {
        return Vec::new();
    }
    let per = n.div_ceil(parts);
    split_chars(s, per)
}

/// Split `s` every `n` chars.
pub(crate) fn split_chars(s: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut count = 0;
    for (i, _) in s.char_indices() {
        if count == n {
            out.push(&s[start..i]);
            start = i;
            count = 0;
        }
        count += 1;
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// Split after each run of whitespace: "a b  c" → ["a ", "b  ", "c"].
pub(crate) fn split_words(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, c) in s.char_indices() {
        if c.is_whitespace() {
            in_space = true;
        } else if in_space {
            out.push(&s[start..i]);
            start = i;
            in_space = false;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// `{"error": {message, type, code, param}}` for a scripted status.
pub(crate) fn error(status: u16) -> Value {
    let (kind, code) = match status {
        400 => ("invalid_request_error", "invalid_request"),
        401 => ("invalid_request_error", "invalid_api_key"),
        403 => ("invalid_request_error", "forbidden"),
        404 => ("invalid_request_error", "not_found"),
        408 => ("timeout", "timeout"),
        429 => ("rate_limit_exceeded", "rate_limit_exceeded"),
        s if s >= 500 => ("server_error", "server_error"),
        _ => ("invalid_request_error", "error"),
    };
    json!({"error": {
        "message": format!("mock upstream: scripted status {status}"),
        "type": kind,
        "code": code,
        "param": null,
    }})
}

/// Deterministic unit vector of `dims` floats from `text`: equal inputs give
/// equal vectors (FNV-1a seed, SplitMix64 stream).
pub(crate) fn embedding(text: &str, dims: usize) -> Vec<f32> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = h;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // Top 24 bits → [-1, 1).
            ((z >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// `{"object":"list","data":[{object:"embedding",index,embedding}],model,usage}`.
pub(crate) fn embeddings(inputs: &[String], dims: usize, model: &str, prompt_tokens: u64) -> Value {
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": embedding(t, dims)}))
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    })
}

/// `GET …/models`.
pub(crate) fn models(model: &str) -> Value {
    json!({"object": "list", "data": [
        {"id": model, "object": "model", "created": 0, "owned_by": "mock"}
    ]})
}

/// Ollama `GET /api/tags`.
pub(crate) fn ollama_tags(model: &str) -> Value {
    json!({"models": [{"name": model, "model": model, "size": 0, "digest": "mock"}]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_keep_text() {
        let s = "Bonjour  [PERSON_1], ça va ?";
        assert_eq!(split_words(s).concat(), s);
        assert_eq!(split_words(s)[0], "Bonjour  ");
        assert_eq!(split_chars(s, 4).concat(), s);
        assert_eq!(split_chars("abcdé", 2), vec!["ab", "cd", "é"]);
        assert_eq!(split_n("{\"a\":1}", 3).concat(), "{\"a\":1}");
        assert_eq!(split_n("{\"a\":1}", 3).len(), 3);
    }

    #[test]
    fn embedding_is_deterministic_and_unit() {
        let a = embedding("hello", 16);
        assert_eq!(a, embedding("hello", 16));
        assert_ne!(a, embedding("hello!", 16));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}
