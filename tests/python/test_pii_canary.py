"""Issue 3 acceptance, the canary: 1,000 generated documents with planted
personal data go through a running `rempart serve` to a recording mock of
tier `eu_sovereign`; half of them streamed.

- the mock (`mock-upstream --echo --record --split-chars 3`) answers with the
  pseudonymised text it received, streamed in 3-character pieces so that
  placeholders straddle SSE events;
- its `GET /__requests/bodies` route gives the bodies it received, to check
  that no planted direct identifier reached it;
- the client's answer must be the original document: every planted value
  restored — byte for byte, except that a value written in several cases
  in one document comes back in the case first seen (one placeholder per
  normalised value, as issue 3 requires); those are counted and reported.

The detector is not perfect, so each planted direct identifier is put in
one of three classes with `rempart pii scan` run on the same texts (the
gateway calls the same detector without a language hint):

- *detected*: detector spans of direct-identifier types cover it entirely —
  it must never reach the mock (a leak here is a pipeline bug);
- *partial*: a detector span overlaps it but does not cover it;
- *missed*: no detector span overlaps it (a leak here is a detection miss).

The test asserts zero leaks of detected values and zero restoration
failures, and prints the counts (run pytest with `-s` to see them; they are
also written, with the ids of every failure, to `$REMPART_CANARY_REPORT`,
default `canary-report.json` in the pytest temporary directory).
Zero leaks overall is asserted only with `REMPART_CANARY_STRICT=1`, the
issue's target, which depends on the detector's recall.

Corpus: `gen.py` of `${SHARED:-<repo>/../shared}/pii-dev`, with buckets and
a seed disjoint from the dev corpus (values unseen by whoever tuned rules on
dev). `REMPART_CANARY_N` changes the number of documents (default 1000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

import openai
import pytest

from conftest import REPO, Mock, Process

N_DOCS = int(os.environ.get("REMPART_CANARY_N", "1000"))
SEED = "4242"
BUCKETS = "3-9"  # dev uses 0-2: no value of the canary is in dev.jsonl
TENANT = "canary"
# `EntityType::is_direct_identifier` in crates/rempart-pii/src/entity.rs:
# DATE_OF_BIRTH and IP_ADDRESS are not replaced for eu_sovereign by default.
NOT_DIRECT = {"DATE_OF_BIRTH", "IP_ADDRESS"}

# A managed EU API: EU operator with an EU parent, EU data centre, no
# retention, DPA signed → tier eu_sovereign (pseudonymise direct identifiers).
SOVEREIGN_FACTS = {
    "operator": "Mistral AI",
    "operator_country": "FR",
    "parent_jurisdiction": "FR",
    "dc_country": "FR",
    "region": "paris",
    "hosting": "managed",
    "retention_days": 0,
    "dpa_signed": True,
    "trained_by": "Mistral AI",
    "licence": "Apache-2.0",
}


def _shared() -> Path:
    return Path(os.environ.get("SHARED") or REPO.parent / "shared")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[dict]:
    gen = _shared() / "pii-dev" / "gen.py"
    if not gen.is_file():
        pytest.fail(f"no generator at {gen}: set SHARED", pytrace=False)
    out = tmp_path_factory.mktemp("canary") / "canary.jsonl"
    subprocess.run(
        [sys.executable, gen, "--templates", "templates_dev", "--buckets", BUCKETS,
         "--seed", SEED, "--n", str(N_DOCS), "--id-prefix", "canary", "--out", out],
        cwd=gen.parent, check=True, capture_output=True,
    )
    docs = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert len(docs) == N_DOCS
    return docs


@pytest.fixture(scope="module")
def detections(binaries, corpus, tmp_path_factory) -> dict[str, list[dict]]:
    """What the gateway's detector finds in each document (no language hint,
    as in the gateway), by id; offsets in code points."""
    rempart, _ = binaries
    inp = tmp_path_factory.mktemp("scan") / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d in corpus))
    out = subprocess.run([rempart, "pii", "scan", inp], capture_output=True, text=True, check=True)
    found = {}
    for line in out.stdout.splitlines():
        row = json.loads(line)
        found[row["id"]] = row["entities"]
    return found


@pytest.fixture(scope="module")
def echo_mock(binaries, logs) -> Mock:
    _, mock_bin = binaries
    proc = Process(
        "mock-canary",
        [mock_bin, "--port", "0", "--echo", "--record", "--split-chars", "3"],
        logs,
    )
    try:
        yield Mock(proc.wait_listening())
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def sovereign_gateway(binaries, logs, tmp_path_factory, echo_mock):
    rempart, _ = binaries
    root = tmp_path_factory.mktemp("canary-gw")
    config = root / "rempart.toml"
    config.write_text(
        "[server]\n"
        'listen = "127.0.0.1:0"\n'
        f"data_dir = {json.dumps(str(root / 'data'))}\n\n"
        # A debug build inspects slowly; the budget is not what this tests.
        "[pii]\nbudget_ms = 20000\n\n"
        + "[deployments.mistral-paris]\n"
        'kind = "mistral"\n'
        f'base_url = "{echo_mock.url}/v1"\n'
        'model = "mistral-small-latest"\n'
        'api_key = "env:MISTRAL_API_KEY"\n'
        "[deployments.mistral-paris.facts]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in SOVEREIGN_FACTS.items())
        + "\n"
        + '[aliases.assistant]\ncandidates = ["mistral-paris"]\n\n'
        + f'[tenants.{TENANT}]\nregion = "FR"\n'
        # Health documents (prescriptions, lab reports, sick notes) carry
        # special-category cues, kept in-tenancy by default; this tenant
        # admits them to its sovereign provider so that every document
        # reaches the pseudonymiser.
        + f'[tenants.{TENANT}.policy]\nspecial_category_max_tier = "eu_sovereign"\n'
    )
    env = dict(os.environ, MISTRAL_API_KEY="test-secret")
    created = subprocess.run(
        [rempart, "keys", "create", "--config", config, "--tenant", TENANT],
        capture_output=True, text=True, env=env,
    )
    assert created.returncode == 0, f"keys create failed:\n{created.stderr}"
    proc = Process("rempart-canary", [rempart, "serve", "--config", config], logs, env=env)
    try:
        url = proc.wait_listening()
        yield openai.OpenAI(base_url=f"{url}/v1", api_key=created.stdout.strip(),
                            max_retries=0, timeout=120)
    finally:
        proc.stop()


def _bodies(mock: Mock) -> list:
    with urllib.request.urlopen(f"{mock.url}/__requests/bodies", timeout=30) as r:
        return json.load(r)


def _last_user(body: dict) -> str:
    user = [m for m in body["messages"] if m.get("role") == "user"][-1]
    c = user["content"]
    return c if isinstance(c, str) else "\n".join(p.get("text", "") for p in c)


def _coverage(ent: dict, predicted: list[dict]) -> str:
    """`detected`, `partial` or `missed`, against predictions of
    direct-identifier types."""
    s, e = ent["start"], ent["end"]
    covered = set()
    for p in predicted:
        if p["type"] in NOT_DIRECT:
            continue
        lo, hi = max(s, p["start"]), min(e, p["end"])
        covered.update(range(lo, hi))
    if not covered:
        return "missed"
    return "detected" if len(covered) == e - s else "partial"


def test_canary_no_detected_value_reaches_the_mock_and_all_are_restored(
    sovereign_gateway, echo_mock, corpus, detections, tmp_path_factory
):
    client = sovereign_gateway
    answers = []
    for i, doc in enumerate(corpus):
        messages = [{"role": "user", "content": doc["text"]}]
        if i % 2 == 0:
            raw = client.chat.completions.with_raw_response.create(
                model="assistant", messages=messages
            )
            assert raw.status_code == 200, doc["id"]
            assert raw.headers["x-rempart-deployment"] == "mistral-paris"
            pii = raw.headers.get("x-rempart-pii", "")
            for ent in doc["entities"]:
                assert ent["value"] not in pii, f"{doc['id']}: a value in X-Rempart-Pii"
            answers.append(raw.parse().choices[0].message.content)
        else:
            stream = client.chat.completions.create(
                model="assistant", messages=messages, stream=True
            )
            answers.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))

    bodies = [b for b in _bodies(echo_mock) if isinstance(b, dict) and "messages" in b]
    assert len(bodies) == len(corpus), "one upstream call per document"

    counts: Counter = Counter()
    by_type: dict[str, Counter] = {}
    leaked_detected, leaked_missed, not_restored, bad_answers = [], [], [], []
    placeholders_seen = 0
    for doc, body, answer in zip(corpus, bodies, answers):
        sent = _last_user(body)
        placeholders_seen += sent.count("[[")
        # The same value gets one placeholder whatever its case (issue 3:
        # "normalised: case, spacing"), and comes back in the spelling first
        # seen in the conversation: `LINKE` after `Linke` returns as `Linke`.
        # Case-only differences are counted apart; anything else fails.
        if answer != doc["text"]:
            if answer.casefold() == doc["text"].casefold():
                counts["answers_case_only_differences"] += 1
            else:
                bad_answers.append(doc["id"])
        for ent in doc["entities"]:
            t, v = ent["type"], ent["value"]
            if v not in answer:
                if v.casefold() in answer.casefold():
                    counts["restored_in_first_seen_case"] += 1
                else:
                    not_restored.append((doc["id"], t))
            if t in NOT_DIRECT:
                counts["not_direct"] += 1
                continue
            cls = _coverage(ent, detections.get(doc["id"], []))
            leaked = v in sent
            counts["direct"] += 1
            counts[cls] += 1
            tc = by_type.setdefault(t, Counter())
            tc["planted"] += 1
            tc[cls] += 1
            if leaked:
                counts["leaked"] += 1
                counts[f"leaked_{cls}"] += 1
                tc["leaked"] += 1
                if cls == "detected":
                    leaked_detected.append((doc["id"], t))
                else:
                    leaked_missed.append((doc["id"], t, cls))

    report = {
        "documents": len(corpus),
        "streamed": len(corpus) // 2,
        "direct_identifiers_planted": counts["direct"],
        "other_planted (DOB, IP: not replaced for eu_sovereign)": counts["not_direct"],
        "detected": counts["detected"],
        "partially_detected": counts["partial"],
        "missed": counts["missed"],
        "leaked_total": counts["leaked"],
        "leaked_detected": counts["leaked_detected"],
        "leaked_partial": counts["leaked_partial"],
        "leaked_missed": counts["leaked_missed"],
        "restoration_failures": len(not_restored),
        "answers_not_identical": len(bad_answers),
        "placeholders_sent": placeholders_seen,
        "by_type": {t: dict(c) for t, c in sorted(by_type.items())},
        "leaked_detected_ids": leaked_detected,
        "leaked_missed_ids": leaked_missed,
        "not_restored_ids": not_restored,
        "answers_not_identical_ids": bad_answers,
    }
    out = Path(os.environ.get("REMPART_CANARY_REPORT")
               or tmp_path_factory.getbasetemp() / "canary-report.json")
    out.write_text(json.dumps(report, indent=2))
    print("\nPII canary:", json.dumps({k: v for k, v in report.items() if not k.endswith("_ids")}, indent=2))
    print("report with ids:", out)
    rate = counts["leaked"] / max(1, counts["direct"])
    print(f"leak rate by detection miss: {counts['leaked']}/{counts['direct']} = {rate:.4%}")

    assert placeholders_seen > 0, "nothing was pseudonymised"
    assert not leaked_detected, f"detected values reached the mock: {leaked_detected[:20]}"
    assert not not_restored, f"values not restored: {not_restored[:20]}"
    assert not bad_answers, f"answers differ from the documents: {bad_answers[:20]}"
    if os.environ.get("REMPART_CANARY_STRICT") == "1":
        assert not leaked_missed, f"values leaked by detection misses: {leaked_missed[:20]}"
