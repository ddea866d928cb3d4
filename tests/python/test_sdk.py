"""The official `openai` Python SDK drives Rempart by `base_url` alone.

Tests taking `gateway` run against the mock-backed gateway and, with
REMPART_EMBEDDED=1, against `rempart serve` on embedded defaults. The rest
run against the mock-backed gateway only (see conftest.py for the setup).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import openai
import pytest

from conftest import EMBEDDING_DIMS, EU_REPLY, TOOL_ARGS, TOOL_NAME

HELLO = [{"role": "user", "content": "Say hello in one short sentence."}]
# Small answers: the embedded engine runs on CPU.
MAX_TOKENS = 24

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}


# --- chat, streaming, models: mock and embedded ---------------------------


def test_chat(gateway):
    client = gateway.client()
    raw = client.chat.completions.with_raw_response.create(
        model=gateway.chat_model, messages=HELLO, max_tokens=MAX_TOKENS
    )
    assert raw.status_code == 200
    assert raw.headers["x-rempart-deployment"] == gateway.expected_deployment
    assert raw.headers.get("x-rempart-request-id")
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.id
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.finish_reason in ("stop", "length")
    if gateway.expected_reply is not None:
        assert choice.message.content == gateway.expected_reply
    else:
        assert choice.message.content and choice.message.content.strip()
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def _stream_text(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_chat_streaming(gateway):
    client = gateway.client()
    stream = client.chat.completions.create(
        model=gateway.chat_model, messages=HELLO, max_tokens=MAX_TOKENS, stream=True
    )
    chunks = list(stream)
    assert len(chunks) >= 2, chunks
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = _stream_text(chunks)
    if gateway.expected_reply is not None:
        assert text == gateway.expected_reply
    else:
        assert text.strip()
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in ("stop", "length")
    # Without include_usage, no chunk carries usage.
    assert all(c.usage is None for c in chunks)


def test_chat_streaming_include_usage(gateway):
    client = gateway.client()
    chunks = list(
        client.chat.completions.create(
            model=gateway.chat_model,
            messages=HELLO,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.usage is not None, chunks
    assert last.choices == []
    assert last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    text = _stream_text(chunks)
    if gateway.expected_reply is not None:
        assert text == gateway.expected_reply


def test_streaming_response_headers(gateway):
    client = gateway.client()
    with client.chat.completions.with_streaming_response.create(
        model=gateway.chat_model, messages=HELLO, max_tokens=MAX_TOKENS, stream=True
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["x-rempart-deployment"] == gateway.expected_deployment
        text = _stream_text(resp.parse())
    if gateway.expected_reply is not None:
        assert text == gateway.expected_reply
    else:
        assert text.strip()


def test_models_list(gateway):
    client = gateway.client()
    models = client.models.list()
    ids = [m.id for m in models]
    assert gateway.chat_model in ids
    assert all(m.object == "model" for m in models)


# --- tool calls ------------------------------------------------------------


def test_tool_call(client):
    completion = client.chat.completions.create(
        model="tools",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.id
    assert call.function.name == TOOL_NAME
    assert json.loads(call.function.arguments) == TOOL_ARGS


def test_tool_call_streaming(client):
    stream = client.chat.completions.create(
        model="tools",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    name, args, ids, finish = "", "", set(), None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for tc in delta.tool_calls or []:
            assert tc.index == 0
            if tc.id:
                ids.add(tc.id)
            if tc.function and tc.function.name:
                name += tc.function.name
            if tc.function and tc.function.arguments:
                args += tc.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    assert len(ids) == 1
    assert name == TOOL_NAME
    assert json.loads(args) == TOOL_ARGS
    assert finish == "tool_calls"


def test_tool_result_is_accepted(client):
    """A conversation carrying an assistant tool call and the tool's result
    (content null, `tool_calls`, `tool_call_id`) goes through."""
    messages = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": TOOL_NAME, "arguments": json.dumps(TOOL_ARGS)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 14}'},
    ]
    completion = client.chat.completions.create(
        model="assistant", messages=messages, tools=[WEATHER_TOOL]
    )
    assert completion.choices[0].message.content == EU_REPLY


# --- embeddings ------------------------------------------------------------


def test_embeddings_one_input(client):
    raw = client.embeddings.with_raw_response.create(model="assistant", input="Bonjour")
    assert raw.headers["x-rempart-deployment"] == "eu-paris"
    result = raw.parse()
    assert len(result.data) == 1
    assert len(result.data[0].embedding) == EMBEDDING_DIMS
    assert all(isinstance(x, float) for x in result.data[0].embedding)


def test_embeddings_two_inputs(client):
    result = client.embeddings.create(
        model="assistant", input=["first text", "second text"], encoding_format="float"
    )
    assert [d.index for d in result.data] == [0, 1]
    assert all(len(d.embedding) == EMBEDDING_DIMS for d in result.data)
    assert result.data[0].embedding != result.data[1].embedding
    assert result.usage.prompt_tokens > 0


# --- errors ----------------------------------------------------------------


def _error_shape(body) -> dict:
    """`APIStatusError.body` is the `error` object for OpenAI-shaped errors."""
    assert isinstance(body, dict), body
    for field in ("message", "type", "code", "param"):
        assert field in body, body
    return body


def test_bad_key_is_401(mock_gateway):
    bad = openai.OpenAI(
        base_url=f"{mock_gateway.url}/v1", api_key="rk_not_a_real_key", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="assistant", messages=HELLO)
    assert e.value.status_code == 401
    _error_shape(e.value.body)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_unknown_well_formed_key_is_401(mock_gateway):
    """A key of the right shape whose secret differs by one character."""
    key = mock_gateway.key
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    bad = openai.OpenAI(base_url=f"{mock_gateway.url}/v1", api_key=forged, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="assistant", messages=HELLO)
    assert e.value.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        bad.embeddings.create(model="assistant", input="x")


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    assert e.value.status_code == 404
    err = _error_shape(e.value.body)
    assert "no-such-model" in err["message"]
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-model", input="x")


def _post_raw(gateway, path: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"{gateway.url}{path}",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {gateway.key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_malformed_json_is_400_naming_line_and_column(mock_gateway):
    # The SDK always sends valid JSON, so send the bytes ourselves: the
    # closing `]` is missing, the parser fails on line 3.
    body = b'{"model": "assistant",\n "messages": [{"role": "user", "content": "hi"}\n}\n'
    status, payload = _post_raw(mock_gateway, "/v1/chat/completions", body)
    assert status == 400, payload
    err = _error_shape(payload["error"])
    assert err["type"] == "invalid_request_error"
    msg = err["message"]
    assert "line 3" in msg and "column" in msg, msg
    # Same for embeddings.
    status, payload = _post_raw(mock_gateway, "/v1/embeddings", b'{"model": "assistant", "input": ')
    assert status == 400, payload
    assert "line 1" in payload["error"]["message"], payload


def test_wrong_type_names_the_field(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": 42}]
        )
    err = _error_shape(e.value.body)
    assert "messages[0].content" in err["message"], err
    assert err["param"] == "messages[0].content", err

    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="assistant", messages="hello")
    err = _error_shape(e.value.body)
    assert "messages" in err["message"], err


# --- sovereignty: the US deployment listed first is never contacted -------


def test_headers_never_name_the_us_deployment(client):
    for model in ("assistant", "tools"):
        raw = client.chat.completions.with_raw_response.create(model=model, messages=HELLO)
        assert raw.headers["x-rempart-deployment"].startswith("eu-")


def test_us_mock_received_zero_requests(client, eu_mock, tools_mock, us_mock):
    """Runs last in this file: after every test above went through the
    gateway (and a few more requests here, so it holds when run alone), the
    US mock, first candidate of both aliases, was never contacted, not even
    by a health probe."""
    eu_before, tools_before = eu_mock.request_count(), tools_mock.request_count()
    client.chat.completions.create(model="assistant", messages=HELLO)
    list(client.chat.completions.create(model="assistant", messages=HELLO, stream=True))
    client.embeddings.create(model="assistant", input=["a", "b"])
    client.chat.completions.create(model="tools", messages=HELLO, tools=[WEATHER_TOOL])
    # The counting route works: the EU mocks saw those requests.
    assert eu_mock.request_count() >= eu_before + 3
    assert tools_mock.request_count() >= tools_before + 1
    assert us_mock.request_count() == 0


# --- embedded engine: forced tool calls -------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_embedded_forced_tool_call(embedded_gateway, stream):
    """`tool_choice` naming a function makes the embedded engine generate
    under a grammar derived from the tool's JSON Schema: the small local
    model returns a well-formed call, plain or streamed."""
    client = embedded_gateway.client()
    kwargs = dict(
        model=embedded_gateway.chat_model,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": TOOL_NAME}},
        max_tokens=64,
        temperature=0,
    )
    if stream:
        name, args, finish = "", "", None
        for chunk in client.chat.completions.create(stream=True, **kwargs):
            for choice in chunk.choices:
                for tc in choice.delta.tool_calls or []:
                    name += tc.function.name or ""
                    args += tc.function.arguments or ""
                finish = choice.finish_reason or finish
    else:
        completion = client.chat.completions.create(**kwargs)
        choice = completion.choices[0]
        call = choice.message.tool_calls[0]
        name, args, finish = call.function.name, call.function.arguments, choice.finish_reason
    assert name == TOOL_NAME
    assert finish == "tool_calls"
    parsed = json.loads(args)
    assert set(parsed) == {"city", "unit"}, parsed
    assert isinstance(parsed["city"], str) and parsed["city"]
    assert parsed["unit"] in ("celsius", "fahrenheit")
