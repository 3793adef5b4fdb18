#!/usr/bin/env python3
"""The scripted harness workload of scripts/stack-test: plays sessions through the Python example
harness (examples/python/harness.py, official OpenTelemetry SDK, OTLP/HTTP protobuf) with
scenarios derived from examples/scenario.json.

    workload.py healthy    several sessions that meet every PRD target (no alert may fire)
    workload.py regression two sessions of another target: 100% then 80% tests passing

Environment: OTEL_EXPORTER_OTLP_ENDPOINT (the collector's OTLP/HTTP address), ACD_PYTHON (the
venv's python, from scripts/python-venv). Exits non-zero if a harness run fails.
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
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


def main(argv):
    if argv == ["healthy"]:
        for i in range(3):
            play(scenario(HEALTHY_TARGET, passed=10, failed=0, extra_models=(i == 0)))
    elif argv == ["regression"]:
        play(scenario(REGRESS_TARGET, passed=10, failed=0))
        play(scenario(REGRESS_TARGET, passed=8, failed=2))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
