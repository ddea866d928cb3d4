//! The embedded engine behind the same reply types as an HTTP upstream, so
//! the request path does not care where the model runs.

use std::sync::Arc;

use futures::StreamExt;
use rempart_engine::{Engine, FinishReason, GenParams, Message};
use rempart_upstream::wire::{ChatChunk, ChatRequest, ChatResponse, Content, Part, Usage};
use rempart_upstream::{ChatReply, UpstreamError};
use serde_json::{Map, Value, json};

/// Generation parameters from an OpenAI request.
fn params(req: &ChatRequest) -> GenParams {
    let num = |k: &str| req.extra.get(k).and_then(Value::as_f64);
    let max_tokens = num("max_completion_tokens")
        .or_else(|| num("max_tokens"))
        .unwrap_or(256.0);
    let stop = match req.extra.get("stop") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    GenParams {
        max_tokens: max_tokens.clamp(1.0, 8192.0) as u32,
        temperature: num("temperature").unwrap_or(0.0).clamp(0.0, 2.0) as f32,
        top_p: num("top_p").unwrap_or(1.0).clamp(0.0, 1.0) as f32,
        stop,
        seed: num("seed").unwrap_or(42.0) as u32,
        grammar: None,
    }
}

/// A tool call the caller forces (`tool_choice: "required"` or a named
/// function): generation is constrained by a grammar so the small local
/// model always emits well-formed arguments.
struct ForcedTool {
    /// Single tool: its name (grammar = its parameters). Several tools with
    /// `required`: `None` (grammar = `{"name": one of them, "arguments": …}`).
    name: Option<String>,
    grammar: String,
    instruction: String,
}

fn tool_name(tool: &Value) -> Option<&str> {
    tool.pointer("/function/name").and_then(Value::as_str)
}

fn forced_tool(req: &ChatRequest) -> Option<ForcedTool> {
    let tools = req.tools.as_ref().filter(|t| !t.is_empty())?;
    let choice = req.extra.get("tool_choice")?;
    let chosen: Vec<&Value> = match choice {
        Value::String(s) if s == "required" => tools.iter().collect(),
        Value::Object(_) => {
            let name = choice.pointer("/function/name").and_then(Value::as_str)?;
            tools
                .iter()
                .filter(|t| tool_name(t) == Some(name))
                .collect()
        }
        _ => return None,
    };
    let describe = |t: &Value| {
        format!(
            "- {}: {} Parameters (JSON Schema): {}",
            tool_name(t).unwrap_or("?"),
            t.pointer("/function/description")
                .and_then(Value::as_str)
                .unwrap_or(""),
            t.pointer("/function/parameters")
                .map(Value::to_string)
                .unwrap_or_else(|| "{}".into())
        )
    };
    match chosen.as_slice() {
        [] => None,
        [one] => {
            let params = one
                .pointer("/function/parameters")
                .cloned()
                .unwrap_or(json!({"type": "object"}));
            Some(ForcedTool {
                name: tool_name(one).map(str::to_owned),
                grammar: rempart_engine::grammar::from_json_schema(&params),
                instruction: format!(
                    "You must call this function. Reply only with its arguments as a JSON object.\n{}",
                    describe(one)
                ),
            })
        }
        several => {
            let names: Vec<Value> = several
                .iter()
                .filter_map(|t| tool_name(t).map(Value::from))
                .collect();
            let schema = json!({"type": "object", "properties": {"name": {"enum": names}, "arguments": {"type": "object"}}});
            Some(ForcedTool {
                name: None,
                grammar: rempart_engine::grammar::from_json_schema(&schema),
                instruction: format!(
                    "You must call one of these functions. Reply only with a JSON object {{\"name\": …, \"arguments\": {{…}}}}.\n{}",
                    several
                        .iter()
                        .map(|t| describe(t))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            })
        }
    }
}

/// Whether tools are offered but not forced (the embedded model then
/// answers in text; the caller is warned).
pub fn tools_not_forced(req: &ChatRequest) -> bool {
    req.tools.as_ref().is_some_and(|t| !t.is_empty())
        && forced_tool(req).is_none()
        && req.extra.get("tool_choice").and_then(Value::as_str) != Some("none")
}

/// `(name, arguments)` from the constrained output.
fn tool_call_parts(forced: &ForcedTool, text: &str) -> (String, String) {
    match &forced.name {
        Some(name) => (name.clone(), text.trim().to_owned()),
        None => {
            let v: Value = serde_json::from_str(text.trim()).unwrap_or(Value::Null);
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let args = v
                .get("arguments")
                .map(Value::to_string)
                .unwrap_or_else(|| "{}".into());
            (name, args)
        }
    }
}

/// Messages for the engine: text only (image parts are not readable by the
/// embedded text model; the caller is warned).
pub fn messages(req: &ChatRequest) -> (Vec<Message>, bool) {
    let mut dropped_images = false;
    let msgs = req
        .messages
        .iter()
        .map(|m| {
            if let Some(Content::Parts(parts)) = &m.content {
                dropped_images |= parts.iter().any(|p| matches!(p, Part::ImageUrl { .. }));
            }
            Message {
                role: m.role.clone(),
                content: m.text(),
            }
        })
        .collect();
    (msgs, dropped_images)
}

fn finish(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Run a chat on the engine, streaming or not.
pub async fn chat(
    engine: Arc<Engine>,
    req: &ChatRequest,
    deployment: &str,
    id: &str,
) -> Result<ChatReply, UpstreamError> {
    let (mut msgs, _) = messages(req);
    let mut params = params(req);
    let forced = forced_tool(req);
    if let Some(f) = &forced {
        msgs.insert(
            0,
            Message {
                role: "system".into(),
                content: f.instruction.clone(),
            },
        );
        params.grammar = Some(f.grammar.clone());
    }
    let model = engine.model_id();
    let created = now();
    let broken = |what: &'static str| UpstreamError::Protocol {
        deployment: deployment.to_owned(),
        what,
    };
    let call_id = format!("call_{}", id.replace('-', ""));
    if !req.is_stream() || forced.is_some() {
        let e = engine.clone();
        let done = tokio::task::spawn_blocking(move || e.chat(&msgs, &params, &mut |_| true))
            .await
            .map_err(|_| broken("embedded engine task failed"))?
            .map_err(|_| broken("embedded engine failed"))?;
        if let Some(f) = &forced {
            let (name, args) = tool_call_parts(f, &done.text);
            let finish_reason = match done.finish_reason {
                FinishReason::Stop => "tool_calls",
                FinishReason::Length => "length",
            };
            let usage = usage(done.prompt_tokens, done.completion_tokens);
            if req.is_stream() {
                // A forced call is generated whole, then streamed as the
                // deltas an OpenAI server sends.
                let cid = format!("chatcmpl-{id}");
                let mk = |choice: Value, u: Option<Usage>| chunk(&cid, created, &model, choice, u);
                let items: Vec<Result<ChatChunk, UpstreamError>> = vec![
                    Ok(mk(
                        json!({"index": 0, "delta": {"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}, "finish_reason": null}),
                        None,
                    )),
                    Ok(mk(
                        json!({"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args}}]}, "finish_reason": null}),
                        None,
                    )),
                    Ok(mk(
                        json!({"index": 0, "delta": {}, "finish_reason": finish_reason}),
                        None,
                    )),
                    Ok(ChatChunk {
                        choices: Vec::new(),
                        ..mk(Value::Null, Some(usage))
                    }),
                ];
                return Ok(ChatReply::Stream(Box::pin(futures::stream::iter(items))));
            }
            return Ok(ChatReply::Json(ChatResponse {
                id: format!("chatcmpl-{id}"),
                object: "chat.completion".into(),
                created,
                model,
                choices: vec![json!({
                    "index": 0,
                    "message": {"role": "assistant", "content": null, "tool_calls": [
                        {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
                    ]},
                    "finish_reason": finish_reason,
                })],
                usage: Some(usage),
                extra: Map::new(),
            }));
        }
        return Ok(ChatReply::Json(ChatResponse {
            id: format!("chatcmpl-{id}"),
            object: "chat.completion".into(),
            created,
            model,
            choices: vec![json!({
                "index": 0,
                "message": {"role": "assistant", "content": done.text},
                "finish_reason": finish(done.finish_reason),
            })],
            usage: Some(usage(done.prompt_tokens, done.completion_tokens)),
            extra: Map::new(),
        }));
    }
    // Streaming: the engine runs on a blocking thread and sends pieces; a
    // closed receiver (client gone) stops generation.
    enum Ev {
        Piece(String),
        Done(rempart_engine::Completion),
        Failed,
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Ev>(64);
    let e = engine.clone();
    tokio::task::spawn_blocking(move || {
        let mut on_token = |piece: &str| tx.blocking_send(Ev::Piece(piece.to_owned())).is_ok();
        let r = e.chat(&msgs, &params, &mut on_token);
        let _ = tx.blocking_send(match r {
            Ok(done) => Ev::Done(done),
            Err(_) => Ev::Failed,
        });
    });
    let chunk_id = format!("chatcmpl-{id}");
    let dep = deployment.to_owned();
    let head = chunk(
        &chunk_id,
        created,
        &model,
        json!({"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}),
        None,
    );
    let body = tokio_stream(rx).flat_map(move |ev| {
        let items: Vec<Result<ChatChunk, UpstreamError>> = match ev {
            Ev::Piece(p) => vec![Ok(chunk(
                &chunk_id,
                created,
                &model,
                json!({"index": 0, "delta": {"content": p}, "finish_reason": null}),
                None,
            ))],
            Ev::Done(d) => vec![
                Ok(chunk(
                    &chunk_id,
                    created,
                    &model,
                    json!({"index": 0, "delta": {}, "finish_reason": finish(d.finish_reason)}),
                    None,
                )),
                Ok(ChatChunk {
                    choices: Vec::new(),
                    ..chunk(
                        &chunk_id,
                        created,
                        &model,
                        Value::Null,
                        Some(usage(d.prompt_tokens, d.completion_tokens)),
                    )
                }),
            ],
            Ev::Failed => vec![Err(UpstreamError::Protocol {
                deployment: dep.clone(),
                what: "embedded engine failed",
            })],
        };
        futures::stream::iter(items)
    });
    Ok(ChatReply::Stream(Box::pin(
        futures::stream::once(async move { Ok(head) }).chain(body),
    )))
}

fn tokio_stream<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn usage(prompt: u32, completion: u32) -> Usage {
    Usage {
        prompt_tokens: prompt.into(),
        completion_tokens: completion.into(),
        total_tokens: u64::from(prompt) + u64::from(completion),
        estimated: false,
    }
}

fn chunk(id: &str, created: u64, model: &str, choice: Value, usage: Option<Usage>) -> ChatChunk {
    ChatChunk {
        id: id.to_owned(),
        object: "chat.completion.chunk".into(),
        created,
        model: model.to_owned(),
        choices: if choice.is_null() {
            Vec::new()
        } else {
            vec![choice]
        },
        usage,
        extra: Map::new(),
    }
}

/// Embeddings on the engine.
pub async fn embeddings(
    engine: Arc<Engine>,
    texts: Vec<String>,
    deployment: &str,
) -> Result<(Vec<Vec<f32>>, u32, String), UpstreamError> {
    let model = engine.model_id();
    let e = engine.clone();
    let (vecs, tokens) = tokio::task::spawn_blocking(move || e.embed(&texts))
        .await
        .map_err(|_| UpstreamError::Protocol {
            deployment: deployment.to_owned(),
            what: "embedded engine task failed",
        })?
        .map_err(|_| UpstreamError::Protocol {
            deployment: deployment.to_owned(),
            what: "embedded engine failed",
        })?;
    Ok((vecs, tokens, model))
}
