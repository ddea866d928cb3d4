"""Issue 4 acceptance: `/metrics` is parsed by a real Prometheus
text-format parser (`prometheus_client.parser` from PyPI), and what it says
matches the requests this test made, with costs from the catalogue prices.

Its own `rempart serve` (so the counts start at zero): an in-tenancy EU
deployment with a price, a US deployment the tenants' policy refuses, two
tenants. The mock counts one token per word: the prompt below has
``PROMPT_TOKENS`` words, the reply ``REPLY_TOKENS``.
"""

from __future__ import annotations

import json
import math
import subprocess
import urllib.request

import openai
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from conftest import EU_FACTS, US_FACTS, Mock, Process

REPLY = "one two three four five"
REPLY_TOKENS = 5
PROMPT = "Say hello"
PROMPT_TOKENS = 2
PRICE_IN, PRICE_OUT = 2.0, 6.0  # EUR per million tokens
# The gateway rounds each request's cost to a micro-euro.
COST_PER_REQUEST = round(PRICE_IN * PROMPT_TOKENS + PRICE_OUT * REPLY_TOKENS) / 1e6


@pytest.fixture(scope="module")
def metrics_gateway(binaries, logs, tmp_path_factory):
    rempart, mock_bin = binaries
    mocks = [Process(f"mock-metrics-{n}", [mock_bin, "--port", "0", "--reply", REPLY], logs)
             for n in ("eu", "us")]
    procs = list(mocks)
    try:
        eu, us = (Mock(p.wait_listening()) for p in mocks)
        root = tmp_path_factory.mktemp("metrics-gw")
        config = root / "rempart.toml"

        def dep(id_, kind, url, facts, price=None):
            text = (f"[deployments.{id_}]\nkind = \"{kind}\"\nbase_url = \"{url}/v1\"\n"
                    f"model = \"{id_}-model\"\n")
            if price:
                text += (f"[deployments.{id_}.price]\ninput_eur_per_mtok = {price[0]}\n"
                         f"output_eur_per_mtok = {price[1]}\n")
            text += f"[deployments.{id_}.facts]\n"
            return text + "".join(f"{k} = {json.dumps(v)}\n" for k, v in facts.items()) + "\n"

        config.write_text(
            "[server]\n"
            'listen = "127.0.0.1:0"\n'
            f"data_dir = {json.dumps(str(root / 'data'))}\n\n"
            + dep("eu-paris", "vllm", eu.url, EU_FACTS, (PRICE_IN, PRICE_OUT))
            + dep("us-east", "openai_compat", us.url, US_FACTS)
            + '[aliases.assistant]\ncandidates = ["eu-paris"]\n\n'
            + '[aliases.us-only]\ncandidates = ["us-east"]\n\n'
            + '[tenants.acme]\nregion = "FR"\n\n'
            + '[tenants.beta]\nregion = "DE"\n'
        )
        keys = {}
        for t in ("acme", "beta"):
            out = subprocess.run(
                [rempart, "keys", "create", "--config", config, "--tenant", t],
                capture_output=True, text=True,
            )
            assert out.returncode == 0, out.stderr
            keys[t] = out.stdout.strip()
        gw = Process("rempart-metrics", [rempart, "serve", "--config", config], logs)
        procs.append(gw)
        url = gw.wait_listening()
        yield url, keys, us
    finally:
        for p in procs:
            p.stop()


def _families(url: str) -> dict:
    """The Prometheus text format (0.0.4), unauthenticated, as Prometheus
    scrapes it."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def _openmetrics(url: str) -> dict:
    """OpenMetrics 1.0, when the scraper asks for it (strict parser: `# EOF`,
    counter families without `_total`)."""
    req = urllib.request.Request(
        f"{url}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers["content-type"].startswith("application/openmetrics-text")
        text = r.read().decode()
    return {f.name: f for f in openmetrics_families(text)}


def _samples(fam, name: str | None = None, **labels) -> list:
    return [s for s in fam.samples
            if (name is None or s.name == name)
            and all(s.labels.get(k) == v for k, v in labels.items())]


def _value(fam, name: str, **labels) -> float:
    found = _samples(fam, name, **labels)
    assert len(found) == 1, (name, labels, fam.samples)
    return found[0].value


def test_metrics_parse_and_match_the_requests(metrics_gateway):
    url, keys, us = metrics_gateway
    client = {t: openai.OpenAI(base_url=f"{url}/v1", api_key=k, max_retries=0, timeout=60)
              for t, k in keys.items()}
    messages = [{"role": "user", "content": PROMPT}]
    served = {"acme": 0, "beta": 0}
    for tenant, n_json, n_stream in (("acme", 3, 2), ("beta", 2, 1)):
        for _ in range(n_json):
            r = client[tenant].chat.completions.create(model="assistant", messages=messages)
            assert r.choices[0].message.content == REPLY
            served[tenant] += 1
        for _ in range(n_stream):
            chunks = list(client[tenant].chat.completions.create(
                model="assistant", messages=messages, stream=True))
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
            served[tenant] += 1
    with pytest.raises(openai.PermissionDeniedError):
        client["acme"].chat.completions.create(model="us-only", messages=messages)
    assert us.request_count() == 0

    fams = _families(url)
    for name in ("rempart_requests", "rempart_tokens", "rempart_cost_eur",
                 "rempart_request_duration_seconds", "rempart_refusals"):
        assert name in fams, sorted(fams)
        assert fams[name].samples, f"{name}: samples attached to their family"
    # Nothing fell out of its family into an untyped one.
    assert all(f.type != "unknown" for f in fams.values()), sorted(fams)
    assert fams["rempart_requests"].type == "counter"
    assert fams["rempart_request_duration_seconds"].type == "histogram"
    om = _openmetrics(url)
    assert om["rempart_requests"].type == "counter"
    def rows(fam):
        return sorted((s.name, sorted(s.labels.items()), s.value) for s in fam.samples)

    assert rows(om["rempart_requests"]) == rows(fams["rempart_requests"])

    req = fams["rempart_requests"]
    for tenant, n in served.items():
        assert _value(req, "rempart_requests_total", tenant=tenant, deployment="eu-paris",
                      outcome="served", endpoint="chat") == n
    assert _value(req, "rempart_requests_total", tenant="acme", outcome="refused_policy") == 1
    assert sum(s.value for s in _samples(req, "rempart_requests_total")) == sum(served.values()) + 1

    tok = fams["rempart_tokens"]
    cost = fams["rempart_cost_eur"]
    for tenant, n in served.items():
        t_in = _value(tok, "rempart_tokens_total", tenant=tenant, deployment="eu-paris",
                      direction="in")
        t_out = _value(tok, "rempart_tokens_total", tenant=tenant, deployment="eu-paris",
                       direction="out")
        assert (t_in, t_out) == (n * PROMPT_TOKENS, n * REPLY_TOKENS)
        eur = _value(cost, "rempart_cost_eur_total", tenant=tenant, deployment="eu-paris")
        assert math.isclose(eur, n * COST_PER_REQUEST, rel_tol=1e-9), (eur, n)
    # The US deployment never served, so it has no tokens and no cost.
    assert not _samples(tok, deployment="us-east") and not _samples(cost, deployment="us-east")

    lat = fams["rempart_request_duration_seconds"]
    for tenant, n in served.items():
        buckets = _samples(lat, "rempart_request_duration_seconds_bucket", tenant=tenant,
                           deployment="eu-paris")
        assert len(buckets) >= 10
        les = [float(b.labels["le"]) for b in buckets]
        assert les == sorted(les) and math.isinf(les[-1])
        counts = [b.value for b in buckets]
        assert counts == sorted(counts), "cumulative buckets"
        assert counts[-1] == n
        assert _value(lat, "rempart_request_duration_seconds_count", tenant=tenant,
                      deployment="eu-paris") == n
        assert _value(lat, "rempart_request_duration_seconds_sum", tenant=tenant,
                      deployment="eu-paris") > 0
    ttft = fams.get("rempart_time_to_first_token_seconds")
    assert ttft is not None and _value(
        ttft, "rempart_time_to_first_token_seconds_count", tenant="acme",
        deployment="eu-paris") == 2

    ref = fams["rempart_refusals"]
    assert _value(ref, "rempart_refusals_total", tenant="acme", reason="policy") == 1
    assert not _samples(ref, tenant="beta")
