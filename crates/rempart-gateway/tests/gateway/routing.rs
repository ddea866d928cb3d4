//! Hybrid routing: an alias sends short prompts and `summarise` tasks to a
//! small self-hosted model, the rest to a large one, and says which rule
//! decided in `X-Rempart-Route`.

use rempart_test::MockUpstream;
use serde_json::json;

use crate::common::*;

struct Setup {
    gw: Gateway,
    small: MockUpstream,
    large: MockUpstream,
}

async fn setup() -> Setup {
    let small = MockUpstream::builder().reply("small").start().await;
    let large = MockUpstream::builder().reply("large").start().await;
    let toml = Toml::new()
        .deployment("small", Dep::eu(&small).kind("vllm"))
        .deployment("large", Dep::eu(&large).kind("vllm"))
        .alias_raw(
            "[aliases.assistant]\n\
             candidates = [\"large\"]\n\
             [[aliases.assistant.rules]]\n\
             when = { max_prompt_tokens = 50 }\n\
             candidates = [\"small\"]\n\
             [[aliases.assistant.rules]]\n\
             when = { task = [\"summarise\"] }\n\
             candidates = [\"small\"]\n",
        )
        .default_tenant()
        .build();
    Setup {
        gw: Gateway::start(&toml).await,
        small,
        large,
    }
}

/// About 250 tokens of prompt.
fn long_prompt() -> String {
    "Le rapport annuel détaille les résultats de chaque filiale. ".repeat(17)
}

async fn routed(s: &Setup, body: &serde_json::Value) -> (String, String) {
    let resp = s.gw.chat(body).await;
    assert_eq!(resp.status(), 200);
    let dep = header(&resp, "x-rempart-deployment").to_owned();
    let route = header(&resp, "x-rempart-route").to_owned();
    (dep, route)
}

#[tokio::test]
async fn a_short_prompt_goes_to_the_small_model() {
    let s = setup().await;
    let (dep, route) = routed(&s, &chat_body("assistant", "Bonjour !")).await;
    assert_eq!(dep, "small");
    assert_eq!(route, "rule 1 (prompt_tokens <= 50)");
    assert_eq!((chats(&s.small), chats(&s.large)), (1, 0));
}

#[tokio::test]
async fn a_long_prompt_goes_to_the_large_model() {
    let s = setup().await;
    let (dep, route) = routed(&s, &chat_body("assistant", &long_prompt())).await;
    assert_eq!(dep, "large");
    assert_eq!(route, "default");
    let (dep, _) = routed(&s, &stream_body("assistant", &long_prompt())).await;
    assert_eq!(dep, "large");
    assert_eq!((chats(&s.small), chats(&s.large)), (0, 2));
}

#[tokio::test]
async fn the_summarise_task_goes_to_the_small_model_whatever_the_size() {
    let s = setup().await;
    let mut body = chat_body("assistant", &long_prompt());
    body["metadata"] = json!({"task": "summarise"});
    let (dep, route) = routed(&s, &body).await;
    assert_eq!(dep, "small");
    assert_eq!(route, "rule 2 (task in [summarise])");

    body["metadata"] = json!({"task": "translate"});
    let (dep, route) = routed(&s, &body).await;
    assert_eq!(dep, "large");
    assert_eq!(route, "default");
    assert_eq!((chats(&s.small), chats(&s.large)), (1, 1));
}
