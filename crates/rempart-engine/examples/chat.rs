//! Ask the embedded engine one question, streaming the answer to stdout.
//!
//! ```sh
//! cargo run -p rempart-engine --features embedded --example chat -- MODEL.gguf "What is the capital of France?"
//! ```

use std::io::Write;
use std::path::PathBuf;

use rempart_engine::{Engine, EngineOptions, GenParams, Message};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().expect("usage: chat MODEL.gguf QUESTION"));
    let question = args.collect::<Vec<_>>().join(" ");
    let engine = Engine::load(&path, EngineOptions::default()).unwrap();
    let msgs = vec![Message {
        role: "user".into(),
        content: question,
    }];
    let c = engine
        .chat(&msgs, &GenParams::default(), &mut |piece| {
            print!("{piece}");
            std::io::stdout().flush().is_ok()
        })
        .unwrap();
    println!();
    eprintln!(
        "[{} prompt + {} completion tokens, finish {:?}]",
        c.prompt_tokens, c.completion_tokens, c.finish_reason
    );
}
