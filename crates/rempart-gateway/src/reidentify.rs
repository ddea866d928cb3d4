//! Step 8: put the caller's values back into the answer — message content,
//! tool-call arguments (JSON-escaped), whole or streamed.

use std::collections::HashMap;
use std::sync::Arc;

use rempart_pii::{Mapping, Mode, StreamReidentifier};
use rempart_upstream::wire::{ChatChunk, ChatResponse};
use serde_json::Value;

/// Re-identifies one request's answer. A no-op when nothing was replaced.
pub struct Reidentifier {
    mapping: Arc<Mapping>,
    /// Per (choice, tool call or `usize::MAX` for content): stream state.
    streams: HashMap<(u64, usize), StreamReidentifier<Arc<Mapping>>>,
}

const CONTENT: usize = usize::MAX;

impl Reidentifier {
    /// For the placeholders issued for this request.
    pub fn new(mapping: Mapping) -> Reidentifier {
        Reidentifier {
            mapping: Arc::new(mapping),
            streams: HashMap::new(),
        }
    }

    fn active(&self) -> bool {
        !self.mapping.is_empty()
    }

    /// A whole completion.
    pub fn response(&self, resp: &mut ChatResponse) {
        if !self.active() {
            return;
        }
        for choice in &mut resp.choices {
            if let Some(Value::String(s)) = choice.pointer_mut("/message/content") {
                *s = rempart_pii::reidentify(s, &self.mapping);
            }
            if let Some(Value::Array(calls)) = choice.pointer_mut("/message/tool_calls") {
                for call in calls {
                    if let Some(Value::String(args)) = call.pointer_mut("/function/arguments") {
                        *args = rempart_pii::reidentify_json(args, &self.mapping);
                    }
                }
            }
        }
    }

    /// One streamed chunk. Text that could still be the start of a
    /// placeholder is held back and released with a later chunk; a choice's
    /// held text is flushed on its `finish_reason`.
    pub fn chunk(&mut self, chunk: &mut ChatChunk) {
        if !self.active() {
            return;
        }
        for choice in &mut chunk.choices {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let finished = choice.get("finish_reason").is_some_and(|f| !f.is_null());
            // Content.
            let key = (index, CONTENT);
            let content = choice
                .pointer("/delta/content")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if content.is_some() || (finished && self.streams.contains_key(&key)) {
                let out = self.feed(key, Mode::Text, content.as_deref(), finished);
                match choice.pointer_mut("/delta/content") {
                    Some(v) => *v = Value::String(out),
                    None if !out.is_empty() => {
                        if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut)
                        {
                            delta.insert("content".into(), Value::String(out));
                        }
                    }
                    None => {}
                }
            }
            // Tool-call arguments, by tool-call index.
            if let Some(Value::Array(calls)) = choice.pointer_mut("/delta/tool_calls") {
                for (pos, call) in calls.iter_mut().enumerate() {
                    let tc = call
                        .get("index")
                        .and_then(Value::as_u64)
                        .map_or(pos, |i| i as usize);
                    if let Some(Value::String(args)) = call.pointer_mut("/function/arguments") {
                        let out =
                            self.feed((index, tc), Mode::JsonString, Some(args.as_str()), false);
                        *args = out;
                    }
                }
            }
            if finished {
                // Flush held tool-call argument text into this chunk.
                let mut keys: Vec<(u64, usize)> = self
                    .streams
                    .keys()
                    .filter(|(c, t)| *c == index && *t != CONTENT)
                    .copied()
                    .collect();
                keys.sort();
                for key in keys {
                    let out = self.feed(key, Mode::JsonString, None, true);
                    if !out.is_empty() {
                        append_tool_args(choice, key.1, out);
                    }
                }
            }
        }
    }

    fn feed(&mut self, key: (u64, usize), mode: Mode, text: Option<&str>, flush: bool) -> String {
        let mapping = &self.mapping;
        let st = self
            .streams
            .entry(key)
            .or_insert_with(|| StreamReidentifier::with_mode(mapping.clone(), mode));
        let mut out = String::new();
        if let Some(t) = text {
            st.feed(t, &mut out);
        }
        if flush {
            st.finish(&mut out);
        }
        out
    }

    /// Flush everything still held (stream ended without `finish_reason`).
    pub fn flush(&mut self) -> String {
        let mut out = String::new();
        let mut keys: Vec<_> = self.streams.keys().copied().collect();
        keys.sort();
        for k in keys {
            if let Some(st) = self.streams.get_mut(&k) {
                st.finish(&mut out);
            }
        }
        out
    }
}

fn append_tool_args(choice: &mut Value, tool_index: usize, text: String) {
    let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) else {
        return;
    };
    let calls = delta
        .entry("tool_calls")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(calls) = calls {
        calls.push(serde_json::json!({"index": tool_index, "function": {"arguments": text}}));
    }
}
