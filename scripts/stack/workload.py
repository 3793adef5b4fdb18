#!/usr/bin/env python3
"""The scripted harness workload of scripts/stack-test: plays sessions through the Python example
harness (examples/python/harness.py, official OpenTelemetry SDK, OTLP/HTTP protobuf) with
scenarios derived from examples/scenario.json.

    workload.py healthy    several sessions that meet every PRD target (no alert may fire)
    workload.py regression two sessions of another target: 100% then 80% tests passing

Environment: OTEL_EXPORTER_OTLP_ENDPOINT (the collector's OTLP/HTTP address), ACD_PYTHON (the
venv's python, from scripts/python-venv), ACD_PROMETHEUS (the Prometheus that scrapes the
collector; optional). Exits non-zero if a harness run fails.
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "examples" / "python" / "harness.py"
BASE = json.loads((REPO / "examples" / "scenario.json").read_text(encoding="utf-8"))

HEALTHY_TARGET = {"id": "5a7c0d3e-8b1f-4d2a-9c3e-000000000001", "name": "stack-healthy"}
REGRESS_TARGET = {"id": "5a7c0d3e-8b1f-4d2a-9c3e-000000000002", "name": "stack-regress"}
# A model missing from the price table: its calls are counted as unpriced (cost 0).
UNPRICED_MODEL = "stack-local-model"
UTILIZATION = 0.8  # inside the PRD's 70-90% band


def with_context(turn):
    """Context segments that add up to the turn's prompt, in a window it fills to 80%."""
    prompt = turn["usage"]["input_tokens"]
    system, feature, files = (round(prompt * f) for f in (0.15, 0.20, 0.40))
    turn["context"] = {
        "system_tokens": system,
        "feature_tokens": feature,
        "file_tokens": files,
        "conversation_tokens": prompt - system - feature - files,
        "limit": round(prompt / UTILIZATION),
    }
    return turn


def test_run(passed, failed):
    cases = [{"name": f"case {i}", "classname": "stack", "status": "passed", "duration_ms": 1}
             for i in range(passed)]
    cases += [{"name": f"failing {i}", "classname": "stack", "status": "failed", "duration_ms": 1,
               "failure_message": "assertion failed"} for i in range(failed)]
    return {"suite": "stack unit tests", "cases": cases}


def scenario(target, passed, failed, extra_models=False):
    s = copy.deepcopy(BASE)
    s["target"] = target
    s["turns"] = [with_context(t) for t in s["turns"]]
    if extra_models:
        haiku = with_context(copy.deepcopy(s["turns"][0]))
        haiku["model"] = "claude-haiku-4-5-20251001"
        haiku.pop("retries", None)
        unpriced = copy.deepcopy(haiku)
        unpriced["model"] = UNPRICED_MODEL
        s["turns"] += [haiku, unpriced]
    s["test_run"] = test_run(passed, failed)
    return s


def play(s):
    python = os.environ.get("ACD_PYTHON", sys.executable)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(s, f)
    try:
        session = str(uuid.uuid4())
        env = dict(os.environ, ACD_SCENARIO=f.name, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
        done = subprocess.run([python, str(HARNESS), session], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"harness failed ({done.returncode}): {done.stderr.strip()}")
        print(f"  session {session} of {s['target']['name']}: "
              f"{len(s['turns'])} turns, tests {sum(c['status'] == 'passed' for c in s['test_run']['cases'])}"
              f"/{len(s['test_run']['cases'])} passed")
    finally:
        os.unlink(f.name)


def scraped_since(prometheus, since):
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode(
        {"query": 'timestamp(up{job="acd-collector"})'})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            result = json.load(r)["data"]["result"]
    except OSError:
        return False
    return bool(result) and float(result[0]["value"][1]) > since


def wait_for_scrape():
    """Until Prometheus has scraped the counts of the sessions played so far.

    A counter series is born with its first increment, and rate() over it sees only increases
    between two scrapes: if every session landed between the same two scrapes, every ratio rule
    would read 0/0. So each session after the first must be seen by a later scrape (CI once ran
    all three inside one 1 s scrape interval)."""
    since = time.time()
    prometheus = os.environ.get("ACD_PROMETHEUS")
    deadline = since + 15
    while time.time() < deadline:
        if prometheus is None:
            time.sleep(2.5)  # two scrape intervals of scripts/stack-test
            return
        if scraped_since(prometheus, since + 0.1):
            return
        time.sleep(0.2)
    sys.exit(f"Prometheus at {prometheus} did not scrape the collector within 15 s")


def play_all(scenarios):
    for i, s in enumerate(scenarios):
        if i:
            wait_for_scrape()
        play(s)


def main(argv):
    if argv == ["healthy"]:
        play_all([scenario(HEALTHY_TARGET, passed=10, failed=0, extra_models=(i == 0))
                  for i in range(3)])
    elif argv == ["regression"]:
        play_all([scenario(REGRESS_TARGET, passed=10, failed=0),
                  scenario(REGRESS_TARGET, passed=8, failed=2)])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
