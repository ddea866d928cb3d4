//! The llama.cpp backend (feature `embedded`), through the safe `llama-cpp-2` API.
//!
//! # Threading
//!
//! A llama.cpp context borrows its model and must not be used from two
//! threads at once. The engine therefore owns one dedicated worker thread
//! that holds the generation context (and, once `embed` is first called, a
//! second context with embeddings on). `chat` and `embed` calls from any
//! number of threads are queued to that worker and run one at a time, in
//! arrival order: generation is serialised, never interleaved. Contexts are
//! only ever created on the worker, so they are never created concurrently
//! (which llama.cpp does not support on a shared model). Streaming pieces are
//! sent back to the calling thread, which runs `on_token` and answers whether
//! to go on, so `on_token` needs neither `Send` nor `'static`.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, OnceLock, mpsc};
use std::thread::JoinHandle;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use crate::text::{StopMatcher, Utf8Stream, l2_normalize};
use crate::{Completion, EngineOptions, Error, FinishReason, GenParams, Message};

/// Upper bound on the embedding context (tokens per embedded text).
const EMBED_CTX_MAX: u32 = 2048;

/// Process-wide llama.cpp backend. Its log hook is installed once, by the
/// first load: llama.cpp logs are dropped unless `llama_logs` asked for them
/// to go to `tracing`.
fn backend(llama_logs: bool) -> Result<&'static LlamaBackend, Error> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(
                llama_cpp_2::LogOptions::default().with_logs_enabled(llama_logs),
            );
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Inference(format!("llama.cpp backend: {e}")))
}

/// What `load` learns about the model, for the public `Engine`.
pub(crate) struct Loaded {
    pub(crate) handle: Handle,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) n_params: u64,
    pub(crate) context_size: u32,
    pub(crate) embedding_dims: u32,
    pub(crate) model_chat_template: bool,
}

/// Embedding vectors and the total number of input tokens.
type Embedded = Result<(Vec<Vec<f32>>, u32), Error>;

enum Job {
    Chat {
        messages: Vec<Message>,
        params: GenParams,
        events: mpsc::Sender<Event>,
        acks: mpsc::Receiver<bool>,
    },
    Embed {
        texts: Vec<String>,
        reply: mpsc::Sender<Embedded>,
    },
}

enum Event {
    Piece(String),
    Done(Result<Completion, Error>),
}

/// The caller side of the worker.
pub(crate) struct Handle {
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Closing the queue ends the worker once queued jobs are done.
        self.jobs.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn gone() -> Error {
    Error::Inference("the engine worker thread has stopped".into())
}

impl Handle {
    fn send(&self, job: Job) -> Result<(), Error> {
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())
    }

    pub(crate) fn chat(
        &self,
        messages: &[Message],
        params: &GenParams,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, Error> {
        let (events_tx, events) = mpsc::channel();
        let (acks, acks_rx) = mpsc::channel();
        self.send(Job::Chat {
            messages: messages.to_vec(),
            params: params.clone(),
            events: events_tx,
            acks: acks_rx,
        })?;
        loop {
            match events.recv().map_err(|_| gone())? {
                Event::Piece(piece) => {
                    let go_on = on_token(&piece);
                    let _ = acks.send(go_on);
                }
                Event::Done(result) => return result,
            }
        }
    }

    pub(crate) fn embed(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, u32), Error> {
        let (reply, rx) = mpsc::channel();
        self.send(Job::Embed {
            texts: texts.to_vec(),
            reply,
        })?;
        rx.recv().map_err(|_| gone())?
    }
}

fn threads(opts: &EngineOptions) -> i32 {
    let n = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        opts.threads as usize
    };
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub(crate) fn load(path: &Path, opts: &EngineOptions) -> Result<Loaded, Error> {
    let load_err = |reason: String| Error::Load {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(load_err("no such file".into()));
    }
    let backend = backend(opts.llama_logs)?;
    let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
        .map_err(|e| load_err(format!("llama.cpp could not load it as a GGUF model ({e})")))?;

    let mut metadata = BTreeMap::new();
    for i in 0..model.meta_count() {
        // No let-chains: the workspace's rust-version is 1.85.
        let Ok(k) = model.meta_key_by_index(i) else {
            continue;
        };
        if !k.starts_with("general.") {
            continue;
        }
        if let Ok(v) = model.meta_val_str_by_index(i) {
            metadata.insert(k, v);
        }
    }

    // The model's own template (GGUF `tokenizer.chat_template`), as llama.cpp
    // understands it; ChatML if it has none or llama.cpp does not know it.
    let probe = [LlamaChatMessage::new("user".into(), "hi".into())
        .map_err(|e| Error::Inference(e.to_string()))?];
    let (template, model_chat_template) = match model.chat_template(None) {
        Ok(t) if model.apply_chat_template(&t, &probe, true).is_ok() => (t, true),
        _ => (
            LlamaChatTemplate::new("chatml").map_err(|e| Error::Inference(e.to_string()))?,
            false,
        ),
    };

    let n_ctx_train = model.n_ctx_train();
    let want = if opts.n_ctx == 0 {
        n_ctx_train
    } else {
        opts.n_ctx.min(n_ctx_train.max(1))
    };
    let n_params = model.n_params();
    let embedding_dims = u32::try_from(model.n_embd()).unwrap_or(0);
    let model = Arc::new(model);
    let threads = threads(opts);

    let (ready_tx, ready) = mpsc::channel();
    let (jobs, jobs_rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("rempart-engine".into())
        .spawn(move || {
            let mut w = match Worker::new(backend, &model, template, want, threads) {
                Ok(w) => {
                    let _ = ready_tx.send(Ok(w.ctx.n_ctx()));
                    w
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            for job in jobs_rx {
                w.run(job);
            }
        })
        .map_err(|e| Error::Inference(format!("cannot start the engine thread: {e}")))?;
    let context_size = match ready.recv() {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            let _ = worker.join();
            return Err(e);
        }
        Err(_) => {
            let _ = worker.join();
            return Err(gone());
        }
    };
    Ok(Loaded {
        handle: Handle {
            jobs: Some(jobs),
            worker: Some(worker),
        },
        metadata,
        n_params,
        context_size,
        embedding_dims,
        model_chat_template,
    })
}

struct Worker<'m> {
    backend: &'static LlamaBackend,
    model: &'m LlamaModel,
    template: LlamaChatTemplate,
    threads: i32,
    ctx: LlamaContext<'m>,
    embed_ctx: Option<LlamaContext<'m>>,
}

fn inference<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Inference(format!("{what}: {e}"))
}

impl<'m> Worker<'m> {
    fn new(
        backend: &'static LlamaBackend,
        model: &'m LlamaModel,
        template: LlamaChatTemplate,
        n_ctx: u32,
        threads: i32,
    ) -> Result<Self, Error> {
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(n_ctx.min(2048))
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let ctx = model
            .new_context(backend, params)
            .map_err(inference("cannot create a context"))?;
        Ok(Self {
            backend,
            model,
            template,
            threads,
            ctx,
            embed_ctx: None,
        })
    }

    fn run(&mut self, job: Job) {
        match job {
            Job::Chat {
                messages,
                params,
                events,
                acks,
            } => {
                let mut emit = |piece: &str| {
                    events.send(Event::Piece(piece.to_owned())).is_ok()
                        && acks.recv().unwrap_or(false)
                };
                let result = catch_unwind(AssertUnwindSafe(|| {
                    self.chat(&messages, &params, &mut emit)
                }))
                .unwrap_or_else(|_| Err(Error::Inference("generation panicked".into())));
                let _ = events.send(Event::Done(result));
            }
            Job::Embed { texts, reply } => {
                let result = catch_unwind(AssertUnwindSafe(|| self.embed(&texts)))
                    .unwrap_or_else(|_| Err(Error::Inference("embedding panicked".into())));
                let _ = reply.send(result);
            }
        }
    }

    /// Tokenise the templated prompt. Template markup is parsed for special
    /// tokens; message contents are not, so text such as `<|im_end|>` inside
    /// a message stays text and cannot forge a turn boundary or a role.
    ///
    /// The template is applied to placeholder contents (private-use
    /// characters that never occur in markup); the rendered markup between
    /// placeholders is tokenised with special tokens, and each message's
    /// real content is tokenised as plain text in its place.
    fn prompt_tokens(&self, messages: &[Message]) -> Result<Vec<LlamaToken>, Error> {
        let mark = |i: usize| format!("\u{F8FF}{i}\u{F8FF}");
        if messages.iter().any(|m| m.content.contains('\0')) {
            return Err(Error::Inference(
                "invalid message: NUL byte in content".into(),
            ));
        }
        let chat = messages
            .iter()
            .enumerate()
            .map(|(i, m)| LlamaChatMessage::new(m.role.clone(), mark(i)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(inference("invalid message"))?;
        let prompt = self
            .model
            .apply_chat_template(&self.template, &chat, true)
            .map_err(inference("chat template"))?;
        // Where each message landed (a template may drop or reorder some).
        let mut spots: Vec<(usize, usize, &str)> = messages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let mk = mark(i);
                prompt
                    .find(&mk)
                    .map(|at| (at, at + mk.len(), m.content.as_str()))
            })
            .collect();
        spots.sort_unstable();
        let model = self.model;
        let vocab = model.vocab();
        let mut tokens = Vec::new();
        let mut first = true;
        let mut push = |text: &str, special: bool| {
            if !text.is_empty() {
                tokens.extend(vocab.tokenize(text.as_bytes(), first, special));
                first = false;
            }
        };
        let mut cursor = 0;
        for (at, end, content) in spots {
            push(&prompt[cursor..at], true);
            push(content, false);
            cursor = end;
        }
        push(&prompt[cursor..], true);
        Ok(tokens)
    }

    fn chat(
        &mut self,
        messages: &[Message],
        p: &GenParams,
        emit: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, Error> {
        let tokens = self.prompt_tokens(messages)?;
        let n_ctx = self.ctx.n_ctx();
        let prompt_tokens = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        if tokens.is_empty() {
            return Err(Error::Inference("empty prompt".into()));
        }
        if prompt_tokens >= n_ctx {
            return Err(Error::ContextOverflow {
                prompt_tokens,
                n_ctx,
            });
        }

        // Fresh KV cache per request: results do not depend on earlier calls.
        self.ctx.clear_kv_cache();
        let n_batch = self.ctx.n_batch() as usize;
        let mut batch = LlamaBatch::new(n_batch, 1);
        let last = tokens.len() - 1;
        for (c, chunk) in tokens.chunks(n_batch).enumerate() {
            batch.clear();
            for (j, t) in chunk.iter().enumerate() {
                let pos = c * n_batch + j;
                batch
                    .add(*t, pos as i32, &[0], pos == last)
                    .map_err(inference("batch"))?;
            }
            self.ctx.decode(&mut batch).map_err(inference("decode"))?;
        }

        let mut chain = Vec::new();
        if let Some(g) = &p.grammar {
            // The grammar masks every token that would leave the language.
            chain.push(
                LlamaSampler::grammar(self.model, g, "root")
                    .map_err(|e| Error::Inference(format!("invalid grammar: {e}")))?,
            );
        }
        if p.temperature.is_nan() || p.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            if p.top_p > 0.0 && p.top_p < 1.0 {
                chain.push(LlamaSampler::top_p(p.top_p, 1));
            }
            chain.push(LlamaSampler::temp(p.temperature));
            chain.push(LlamaSampler::dist(p.seed));
        }
        let mut sampler = LlamaSampler::chain_simple(chain);

        let model = self.model;
        let vocab = model.vocab();
        let mut utf8 = Utf8Stream::default();
        let mut stops = StopMatcher::new(&p.stop);
        let mut text = String::new();
        let mut completion_tokens = 0u32;
        let mut pos = prompt_tokens;
        let mut bytes = Vec::new();
        // `Some(reason)` once finished; `flush` says whether held text remains to emit.
        let (finish_reason, flush) = loop {
            if completion_tokens >= p.max_tokens {
                break (FinishReason::Length, true);
            }
            let token = sampler.sample(&self.ctx, -1);
            if vocab.is_eog(token) {
                break (FinishReason::Stop, true);
            }
            completion_tokens += 1;
            bytes.clear();
            vocab.token_to_piece_into(token, &mut bytes, false, None);
            let fed = stops.feed(&utf8.push(&bytes));
            if !fed.emit.is_empty() {
                text.push_str(&fed.emit);
                if !emit(&fed.emit) {
                    break (FinishReason::Stop, false);
                }
            }
            if fed.stopped {
                break (FinishReason::Stop, false);
            }
            if completion_tokens >= p.max_tokens {
                break (FinishReason::Length, true);
            }
            if pos >= n_ctx {
                // The context is full.
                break (FinishReason::Length, true);
            }
            batch.clear();
            batch
                .add(token, pos as i32, &[0], true)
                .map_err(inference("batch"))?;
            self.ctx.decode(&mut batch).map_err(inference("decode"))?;
            pos += 1;
        };
        if flush {
            let fed = stops.feed(&utf8.finish());
            let mut rest = fed.emit;
            if !fed.stopped {
                rest.push_str(&stops.finish());
            }
            if !rest.is_empty() {
                text.push_str(&rest);
                emit(&rest);
            }
        }
        Ok(Completion {
            text,
            prompt_tokens,
            completion_tokens,
            finish_reason,
        })
    }

    fn embed(&mut self, texts: &[String]) -> Result<(Vec<Vec<f32>>, u32), Error> {
        if self.embed_ctx.is_none() {
            let n = self.ctx.n_ctx().min(EMBED_CTX_MAX);
            // Mean pooling over the sequence; the whole text goes in one
            // micro-batch (n_ubatch = n_ctx) so pooling sees every token.
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(n))
                .with_n_batch(n)
                .with_n_ubatch(n)
                .with_embeddings(true)
                .with_pooling_type(LlamaPoolingType::Mean)
                .with_n_threads(self.threads)
                .with_n_threads_batch(self.threads);
            let ctx = self
                .model
                .new_context(self.backend, params)
                .map_err(inference("cannot create the embedding context"))?;
            self.embed_ctx = Some(ctx);
        }
        let Some(ctx) = self.embed_ctx.as_mut() else {
            return Err(Error::Inference("no embedding context".into()));
        };
        let n_ctx = ctx.n_ctx();
        let vocab = self.model.vocab();
        let mut batch = LlamaBatch::new(n_ctx as usize, 1);
        let mut vectors = Vec::with_capacity(texts.len());
        let mut total = 0u32;
        for text in texts {
            let tokens = vocab.tokenize(text.as_bytes(), true, false);
            let n = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
            if tokens.is_empty() {
                return Err(Error::Inference("cannot embed an empty text".into()));
            }
            if n > n_ctx {
                return Err(Error::ContextOverflow {
                    prompt_tokens: n,
                    n_ctx,
                });
            }
            ctx.clear_kv_cache();
            batch.clear();
            for (i, t) in tokens.iter().enumerate() {
                batch
                    .add(*t, i as i32, &[0], true)
                    .map_err(inference("batch"))?;
            }
            ctx.decode(&mut batch).map_err(inference("decode"))?;
            let mut v = ctx
                .embeddings_seq_ith(0)
                .map_err(inference("embeddings"))?
                .to_vec();
            l2_normalize(&mut v);
            vectors.push(v);
            total = total.saturating_add(n);
        }
        Ok((vectors, total))
    }
}
