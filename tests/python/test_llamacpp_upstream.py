"""A real self-hosted engine as upstream: llama-cpp-python's OpenAI-compatible
server (``python -m llama_cpp.server``, PyPI ``llama-cpp-python[server]``, see
``requirements-llamacpp.txt``) on the same small GGUF as the embedded engine,
driven through ``rempart serve`` by the official ``openai`` SDK.

Runs only with ``REMPART_LLAMACPP=1``; the model is ``$REMPART_TEST_MODEL``
(``scripts/test-embedded.sh`` fetches it with ``scripts/fetch-model.sh``).

Deployment kind: ``openai_compat``, not ``llama_cpp``. The ``llama_cpp`` kind
is llama.cpp's own ``llama-server``, whose active health probe is
``GET /health``; llama-cpp-python's server is a different program (FastAPI)
with no ``/health`` route (it answers 404 there, checked by
``test_server_has_no_health_route`` below), so under the ``llama_cpp`` kind
the probes would fail and the circuit breaker would mark a working engine
down. ``openai_compat`` is watched passively (no probe), which is what this
server supports; its wire is plain OpenAI.

The catalogue also holds a US deployment, listed first in the alias: a
counting ``mock-upstream`` (the conftest's ``us_mock``). The tenant's default
European policy rejects it, and ``test_us_deployment_received_zero_requests``
checks it was never contacted, not even probed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import TENANT, US_FACTS, Gateway, Mock, Process, checked_config_key

pytestmark = pytest.mark.skipif(
    os.environ.get("REMPART_LLAMACPP") != "1",
    reason="llama-cpp-python upstream tests need REMPART_LLAMACPP=1, "
    "tests/python/requirements-llamacpp.txt installed and REMPART_TEST_MODEL set "
    "(scripts/test-embedded.sh does all three)",
)

DEPLOYMENT = "eu-llamacpp"
ALIAS = "smollm"
# Greedy and short: the engine runs on CPU, on machines shared with others.
GREEDY = {"temperature": 0, "max_tokens": 16}
FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
SERVER_TIMEOUT = float(os.environ.get("REMPART_LLAMACPP_STARTUP_TIMEOUT", "180"))

LLAMACPP_FACTS = {
    "operator": "ACME SA",
    "operator_country": "FR",
    "parent_jurisdiction": "FR",
    "dc_country": "FR",
    "region": "paris",
    "hosting": "in_tenancy",
    "retention_days": 0,
    "trained_by": "Hugging Face",
    "licence": "Apache-2.0",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class LlamaCppServer:
    def __init__(self, url: str, model: Path):
        self.url = url
        self.model = model


@pytest.fixture(scope="module")
def llamacpp_server(logs) -> LlamaCppServer:
    model = Path(os.environ.get("REMPART_TEST_MODEL", ""))
    if not model.is_file():
        pytest.fail(
            f"REMPART_LLAMACPP=1 but REMPART_TEST_MODEL={str(model)!r} is not a file: "
            "run scripts/fetch-model.sh DIR and point it at DIR/models/*.gguf",
            pytrace=False,
        )
    port = _free_port()
    env = dict(os.environ)
    # OpenMP threads that spin while waiting make generation crawl on a
    # shared 2-core machine.
    env.setdefault("OMP_WAIT_POLICY", "passive")
    proc = Process(
        "llama-cpp-python",
        [
            sys.executable, "-m", "llama_cpp.server",
            "--model", model,
            "--model_alias", "smollm2-135m-instruct",
            "--host", "127.0.0.1",
            "--port", str(port),
            "--n_ctx", "2048",
        ],
        logs,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # It prints nothing useful on stdout: poll `GET /v1/models` (it
        # answers once the model is loaded and uvicorn listens).
        deadline = time.monotonic() + SERVER_TIMEOUT
        while True:
            if proc.proc.poll() is not None:
                proc._fail(f"exited with {proc.proc.returncode} before serving")
            try:
                status, _ = _get(f"{url}/v1/models", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                proc._fail(f"did not answer GET /v1/models within {SERVER_TIMEOUT:.0f} s")
            time.sleep(0.25)
        yield LlamaCppServer(url, model)
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def llamacpp_gateway(binaries, logs, tmp_path_factory, llamacpp_server, us_mock) -> Gateway:
    rempart, _ = binaries
    root = tmp_path_factory.mktemp("llamacpp-gateway")
    config = root / "rempart.toml"
    us = [f"{k} = {json.dumps(v)}" for k, v in US_FACTS.items()]
    eu = [f"{k} = {json.dumps(v)}" for k, v in LLAMACPP_FACTS.items()]
    config.write_text(
        "[server]\n"
        'listen = "127.0.0.1:0"\n'
        f"data_dir = {json.dumps(str(root / 'data'))}\n"
        'site_country = "FR"\n\n'
        "[deployments.us-east]\n"
        'kind = "openai_compat"\n'
        f'base_url = "{us_mock.url}/v1"\n'
        'model = "us-model"\n'
        "[deployments.us-east.facts]\n" + "\n".join(us) + "\n\n"
        f"[deployments.{DEPLOYMENT}]\n"
        # Not `llama_cpp`: see the module docstring (no /health here).
        'kind = "openai_compat"\n'
        f'base_url = "{llamacpp_server.url}/v1"\n'
        'model = "smollm2-135m-instruct"\n'
        "timeout_ms = 120000\n"
        f"[deployments.{DEPLOYMENT}.facts]\n" + "\n".join(eu) + "\n\n"
        # The US deployment first: only the policy keeps requests off it.
        f'[aliases.{ALIAS}]\ncandidates = ["us-east", "{DEPLOYMENT}"]\n\n'
        f'[tenants.{TENANT}]\nregion = "FR"\n'
    )
    key = checked_config_key(rempart, config, TENANT)
    proc = Process("rempart-llamacpp", [rempart, "serve", "--config", config], logs)
    try:
        yield Gateway(
            name="llamacpp",
            url=proc.wait_listening(),
            key=key,
            chat_model=ALIAS,
            expected_reply=None,
            expected_deployment=DEPLOYMENT,
        )
    finally:
        proc.stop()


def test_server_has_no_health_route(llamacpp_server):
    """Why the deployment is `openai_compat`: the `llama_cpp` kind probes
    `GET /health`, which this server does not serve."""
    status, _ = _get(f"{llamacpp_server.url}/health")
    assert status == 404
    status, body = _get(f"{llamacpp_server.url}/v1/models")
    assert status == 200 and json.loads(body)["data"], body


def test_chat(llamacpp_gateway):
    raw = llamacpp_gateway.client().chat.completions.with_raw_response.create(
        model=ALIAS, messages=FRANCE, **GREEDY
    )
    assert raw.status_code == 200
    assert raw.headers["x-rempart-deployment"] == DEPLOYMENT
    completion = raw.parse()
    assert completion.object == "chat.completion"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.finish_reason in ("stop", "length")
    assert choice.message.content and choice.message.content.strip()
    # SmolLM2-135M-Instruct, greedy, answers this one correctly.
    assert "Paris" in choice.message.content, choice.message.content
    assert completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def _text(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_chat_streaming(llamacpp_gateway):
    client = llamacpp_gateway.client()
    with client.chat.completions.with_streaming_response.create(
        model=ALIAS, messages=FRANCE, stream=True, **GREEDY
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["x-rempart-deployment"] == DEPLOYMENT
        # The SDK consumes `data: [DONE]` and ends the iteration there.
        chunks = list(resp.parse())
    assert len(chunks) >= 2, chunks
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = _text(chunks)
    assert text.strip()
    assert "Paris" in text, text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in ("stop", "length")
    assert all(c.usage is None for c in chunks)


def test_chat_streaming_include_usage(llamacpp_gateway):
    chunks = list(
        llamacpp_gateway.client().chat.completions.create(
            model=ALIAS,
            messages=FRANCE,
            stream=True,
            stream_options={"include_usage": True},
            **GREEDY,
        )
    )
    assert _text(chunks).strip()
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in ("stop", "length")
    last = chunks[-1]
    # llama-cpp-python 0.3.16 ignores `stream_options` (no `include_usage`;
    # abetlen/llama-cpp-python#1552 is not merged) and streams no usage, so
    # Rempart estimates it (completion: one token per delta, which is what
    # this server streams; prompt: text bytes / 4) and marks it `estimated`.
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.model_extra.get("estimated") is True
    deltas = sum(1 for c in chunks if c.choices and c.choices[0].delta.content)
    assert last.usage.completion_tokens == deltas
    assert last.usage.prompt_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


def test_us_deployment_received_zero_requests(llamacpp_gateway, us_mock: Mock):
    # Runs last in this module (pytest keeps file order): after every chat above.
    assert us_mock.request_count() == 0
