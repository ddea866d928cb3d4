"""Fixtures: real processes, no in-process fakes.

The session starts three `mock-upstream` processes and one `rempart serve`:

- ``eu``: the admitted EU deployment (kind ``vllm``, in-tenancy, FR) behind
  the ``assistant`` alias; it replies with ``EU_REPLY``;
- ``tools``: another EU ``vllm`` deployment, behind the ``tools`` alias,
  that answers every chat completion with the tool call ``TOOL_CALL``;
- ``us``: a US ``openai_compat`` deployment listed *first* in both aliases.
  The tenant's default policy rejects it, so it must receive no request at
  all; the mock's uncounted ``GET /__requests/count`` route says whether it
  did.

With ``REMPART_EMBEDDED=1`` a second gateway runs on embedded defaults (no
config file, the embedded engine on a GGUF in
``${REMPART_EMBEDDED_DATA_DIR:-<repo>/rempart-data}/models``, as fetched by
``scripts/fetch-model.sh``); without it the embedded tests skip.

Binaries: ``REMPART_BIN`` and ``MOCK_BIN``, by default
``$CARGO_TARGET_DIR/debug/{rempart,mock-upstream}`` (``CARGO_TARGET_DIR``
defaults to ``<repo>/target``).
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

REPO = Path(__file__).resolve().parents[2]
EU_REPLY = "Bonjour from the EU mock, a reply in several words."
US_REPLY = "This came from the US deployment and must never be seen."
TOOL_NAME = "get_weather"
TOOL_ARGS = {"city": "Paris", "unit": "celsius"}
EMBEDDING_DIMS = 16
TENANT = "acme"
STARTUP_TIMEOUT = float(os.environ.get("REMPART_TEST_STARTUP_TIMEOUT", "60"))
LISTENING = re.compile(r"listening on (http://\S+)")


def _target_dir() -> Path:
    t = os.environ.get("CARGO_TARGET_DIR")
    if not t:
        return REPO / "target"
    p = Path(t)
    return p if p.is_absolute() else REPO / p


def _binary(env: str, name: str) -> Path:
    p = Path(os.environ.get(env) or _target_dir() / "debug" / name)
    if not p.is_file():
        pytest.exit(
            f"{name} binary not found at {p}: build it "
            f"(cargo build -p rempart -p rempart-test --bins) or set {env}",
            returncode=2,
        )
    return p


class Process:
    """A child process whose stdout is read by a thread (so its pipe never
    fills) and whose stderr goes to a log file shown when startup fails."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log = log_dir / f"{name}.stderr.log"
        self.lines: "queue.Queue[str | None]" = queue.Queue()
        self.stdout: list[str] = []
        self._stderr = open(self.log, "wb")
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_listening(self, timeout: float = STARTUP_TIMEOUT) -> str:
        """The base URL from the `listening on http://ADDR` line."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"did not print `listening on …` within {timeout:.0f} s")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=5)
                self._fail(f"exited with {self.proc.returncode} before listening")
            m = LISTENING.search(line)
            if m:
                return m.group(1).rstrip("/")

    def _fail(self, why: str) -> None:
        self.stop()
        err = self.log.read_text(errors="replace")[-4000:]
        out = "".join(self.stdout)[-2000:]
        pytest.fail(
            f"{self.name} ({' '.join(self.argv)}) {why}\n"
            f"--- stdout ---\n{out}\n--- stderr ---\n{err}",
            pytrace=False,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._stderr.close()


@dataclass
class Mock:
    url: str

    def request_count(self) -> int:
        """Requests this mock received (any route), via its uncounted
        `GET /__requests/count`."""
        with urllib.request.urlopen(f"{self.url}/__requests/count", timeout=5) as r:
            return json.load(r)["count"]


@dataclass
class Gateway:
    """A running gateway, what to call it with, and what it should answer."""

    name: str
    url: str
    key: str
    chat_model: str
    # The exact reply of the upstream, when it is scripted (mock); None for
    # a real model, whose answer is only known to be non-empty.
    expected_reply: str | None
    expected_deployment: str
    embedding_model: str | None = None

    def client(self, **kw) -> openai.OpenAI:
        kw.setdefault("max_retries", 0)
        kw.setdefault("timeout", 120)
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.key, **kw)


@pytest.fixture(scope="session")
def binaries() -> tuple[Path, Path]:
    return _binary("REMPART_BIN", "rempart"), _binary("MOCK_BIN", "mock-upstream")


@pytest.fixture(scope="session")
def logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def _mocks(binaries, logs):
    _, mock_bin = binaries
    specs = {
        "eu": ["--reply", EU_REPLY, "--embedding-dims", str(EMBEDDING_DIMS)],
        "us": ["--reply", US_REPLY],
        "tools": ["--tool-call", f"{TOOL_NAME}:{json.dumps(TOOL_ARGS)}"],
    }
    procs = {n: Process(f"mock-{n}", [mock_bin, "--port", "0", *a], logs) for n, a in specs.items()}
    try:
        yield {n: Mock(p.wait_listening()) for n, p in procs.items()}
    finally:
        for p in procs.values():
            p.stop()


@pytest.fixture(scope="session")
def eu_mock(_mocks) -> Mock:
    return _mocks["eu"]


@pytest.fixture(scope="session")
def us_mock(_mocks) -> Mock:
    return _mocks["us"]


@pytest.fixture(scope="session")
def tools_mock(_mocks) -> Mock:
    return _mocks["tools"]


def _deployment(id_: str, kind: str, url: str, model: str, facts: dict) -> str:
    lines = [
        f"[deployments.{id_}]",
        f'kind = "{kind}"',
        f'base_url = "{url}/v1"',
        f'model = "{model}"',
        "embeddings = true",
        f"[deployments.{id_}.facts]",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in facts.items()]
    return "\n".join(lines) + "\n"


EU_FACTS = {
    "operator": "ACME SA",
    "operator_country": "FR",
    "parent_jurisdiction": "FR",
    "dc_country": "FR",
    "region": "paris",
    "hosting": "in_tenancy",
    "retention_days": 0,
    "trained_by": "Mistral AI",
    "licence": "Apache-2.0",
}
US_FACTS = {
    "operator": "US Cloud Inc.",
    "operator_country": "US",
    "parent_jurisdiction": "US",
    "dc_country": "US",
    "region": "us-east",
    "hosting": "managed",
    "retention_days": 30,
    "dpa_signed": True,
    "trained_by": "Mistral AI",
    "licence": "Apache-2.0",
}


def write_config(path: Path, data_dir: Path, mocks: dict[str, Mock]) -> None:
    path.write_text(
        "[server]\n"
        'listen = "127.0.0.1:0"\n'
        f"data_dir = {json.dumps(str(data_dir))}\n"
        'site_country = "FR"\n\n'
        + _deployment("us-east", "openai_compat", mocks["us"].url, "us-model", US_FACTS)
        + "\n"
        + _deployment("eu-paris", "vllm", mocks["eu"].url, "eu-model", EU_FACTS)
        + "\n"
        + _deployment("eu-tools", "vllm", mocks["tools"].url, "tools-model", EU_FACTS)
        + "\n"
        # The US deployment first: only the policy keeps requests off it.
        + '[aliases.assistant]\ncandidates = ["us-east", "eu-paris"]\n\n'
        + '[aliases.tools]\ncandidates = ["us-east", "eu-tools"]\n\n'
        # The default (strict European) policy.
        + f'[tenants.{TENANT}]\nregion = "FR"\n'
    )


def checked_config_key(rempart, config, tenant: str) -> str:
    """`rempart config check` must pass; then `rempart keys create` prints
    the new key alone on stdout, which is returned."""
    check = subprocess.run(
        [rempart, "config", "check", "--config", config], capture_output=True, text=True
    )
    assert check.returncode == 0, f"config check failed:\n{check.stdout}{check.stderr}"
    created = subprocess.run(
        [rempart, "keys", "create", "--config", config, "--tenant", tenant],
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, f"keys create failed:\n{created.stderr}"
    key = created.stdout.strip()
    assert key and "\n" not in key, f"keys create should print the key alone: {created.stdout!r}"
    return key


@pytest.fixture(scope="session")
def mock_gateway(binaries, logs, tmp_path_factory, _mocks) -> Gateway:
    rempart, _ = binaries
    root = tmp_path_factory.mktemp("gateway")
    config = root / "rempart.toml"
    write_config(config, root / "data", _mocks)
    key = checked_config_key(rempart, config, TENANT)
    proc = Process("rempart-mock", [rempart, "serve", "--config", config], logs)
    try:
        url = proc.wait_listening()
        yield Gateway(
            name="mock",
            url=url,
            key=key,
            chat_model="assistant",
            expected_reply=EU_REPLY,
            expected_deployment="eu-paris",
            embedding_model="assistant",
        )
    finally:
        proc.stop()


KEY_BANNER = re.compile(r"Created an API key for tenant `local`[^\n]*\n\s*\n?\s*(\S+)")


@pytest.fixture(scope="session")
def embedded_gateway(binaries, logs, tmp_path_factory) -> Gateway:
    if os.environ.get("REMPART_EMBEDDED") != "1":
        pytest.skip(
            "embedded engine tests need REMPART_EMBEDDED=1, a binary built with "
            "--features embedded, and a model fetched by scripts/fetch-model.sh"
        )
    rempart, _ = binaries
    source = Path(os.environ.get("REMPART_EMBEDDED_DATA_DIR") or REPO / "rempart-data")
    models = source / "models"
    if not any(models.glob("*.gguf")):
        pytest.fail(
            f"REMPART_EMBEDDED=1 but no *.gguf in {models}: run scripts/fetch-model.sh {source}",
            pytrace=False,
        )
    # A fresh data directory (so `serve` creates and prints the first key),
    # sharing the fetched models.
    data = tmp_path_factory.mktemp("embedded") / "data"
    data.mkdir()
    (data / "models").symlink_to(models.resolve(), target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if k not in ("REMPART_CONFIG", "REMPART_LISTEN")}
    proc = Process(
        "rempart-embedded",
        [rempart, "serve", "--data-dir", data, "--listen", "127.0.0.1:0"],
        logs,
        env=env,
    )
    try:
        url = proc.wait_listening(timeout=max(STARTUP_TIMEOUT, 180))
        m = KEY_BANNER.search("".join(proc.stdout))
        if not m:
            proc._fail("did not print the key of tenant `local` before listening")
        yield Gateway(
            name="embedded",
            url=url,
            key=m.group(1),
            chat_model="local",
            expected_reply=None,
            expected_deployment="local",
            embedding_model="local",
        )
    finally:
        proc.stop()


@pytest.fixture(params=["mock", "embedded"])
def gateway(request) -> Gateway:
    """Each test using it runs against the mock-backed gateway and, with
    REMPART_EMBEDDED=1, the embedded-defaults gateway."""
    return request.getfixturevalue(f"{request.param}_gateway")


@pytest.fixture
def client(mock_gateway) -> openai.OpenAI:
    return mock_gateway.client()
