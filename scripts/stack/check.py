#!/usr/bin/env python3
"""scripts/stack-test's expression checks, against the real Prometheus and PostgreSQL:

- every rule Prometheus loaded is healthy; every recording rule's expression returns data (a
  finite value); every alert rule's expression parses and every series it reads returns data
  (the expression itself returns data only while the alert fires);
- every dashboard is structurally sound (schemaVersion, a `${datasource}` datasource variable,
  `target` and `model` variables, unique panel ids, every panel on a declared datasource), every
  PromQL expression of every panel parses and returns data, every template variable query returns
  values, and every SQL query of the drill-down runs on the collector's database and returns rows.

Expressions that read only acd_context_* series are checked for data only when the collector
exposes such a family (issue 6); otherwise they must still parse, and a SKIP line says so.

    check.py --prometheus URL --metrics URL --psql "psql args" [--range 10m]
"""

import argparse
import json
import math
import re
import shlex
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan"}
failures = []


def say(status, what, detail=""):
    print(f"  {status:<4} {what}" + (f": {detail}" if detail else ""), flush=True)
    if status == "FAIL":
        failures.append(what)


def prom(base, path, **params):
    url = f"{base}{path}?{urllib.parse.urlencode(params, doseq=True)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


def metric_names(expr):
    """Names of the series an expression reads (not functions, keywords, labels or durations)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        rest = s[m.end():].lstrip()
        if rest.startswith("(") or m.group(0).lower() in KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def context_only(expr):
    names = metric_names(expr)
    return bool(names) and all("acd_context_" in n for n in names)


def finite_values(result):
    data = result["data"]
    if data["resultType"] == "scalar":
        values = [data["result"][1]]
    else:
        values = [sample["value"][1] for sample in data["result"]]
    return [v for v in values if math.isfinite(float(v))]


class Checker:
    def __init__(self, args):
        self.prom = args.prometheus
        self.range = args.range
        self.psql = shlex.split(args.psql)
        with urllib.request.urlopen(args.metrics, timeout=10) as r:
            exposition = r.read().decode()
        self.has_context = "# TYPE acd_context_" in exposition

    def query(self, expr):
        return prom(self.prom, "/api/v1/query", query=expr)

    def returns_data(self, what, expr, need_data=True):
        result = self.query(expr)
        if result.get("status") != "success":
            return say("FAIL", what, f"does not parse or fails: {result.get('error')} in {expr!r}")
        if not need_data:
            return say("ok", what, "parses")
        values = finite_values(result)
        if values:
            return say("ok", what, f"{len(values)} value(s), e.g. {float(values[0]):.4g}")
        if context_only(expr) and not self.has_context:
            return say("SKIP", what, "parses; no data until the collector exports acd_context_* (issue 6)")
        say("FAIL", what, f"returns no data: {expr!r}")

    def rules(self):
        groups = prom(self.prom, "/api/v1/rules")["data"]["groups"]
        count = 0
        for group in groups:
            for rule in group["rules"]:
                count += 1
                name = rule["name"]
                if rule.get("health") != "ok":
                    say("FAIL", f"rule {name}", f"health {rule.get('health')}: {rule.get('lastError')}")
                    continue
                if rule["type"] == "recording":
                    self.returns_data(f"recording rule {name}", rule["query"])
                    continue
                self.returns_data(f"alert {name} expression", rule["query"], need_data=False)
                for series in sorted(metric_names(rule["query"])):
                    self.returns_data(f"alert {name} reads {series}", f"count({series})")
        if count == 0:
            say("FAIL", "rules", "Prometheus loaded no rules")

    def substitute(self, expr):
        return (expr.replace("$__rate_interval", self.range).replace("$__range", self.range)
                .replace("$__interval", self.range).replace('=~"$model"', '=~".*"')
                .replace('=~"$target"', '=~".*"'))

    def sql(self, what, sql):
        sql = (sql.replace("$__timeFilter(s.started_at)", "s.started_at > now() - interval '1 day'")
               .replace("$__timeFilter(tu.started_at)", "tu.started_at > now() - interval '1 day'")
               .replace("${target:sqlstring}", "'__all__'").replace("${model:sqlstring}", "'__all__'"))
        if "$" in sql:
            return say("FAIL", what, f"unsubstituted macro in {sql!r}")
        done = subprocess.run(self.psql + ["-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return say("FAIL", what, done.stderr.strip())
        rows = [r for r in done.stdout.splitlines() if r]
        if not rows:
            return say("FAIL", what, "returns no rows")
        say("ok", what, f"{len(rows)} row(s)")

    def variable(self, dash, var):
        what = f"{dash}: variable ${var['name']}"
        if var["type"] != "query":
            return
        if var["datasource"]["type"] == "prometheus":
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", var["query"]["query"])
            if not m:
                return say("FAIL", what, f"unsupported query {var['query']!r}")
            values = prom(self.prom, f"/api/v1/label/{m.group(2)}/values", **{"match[]": m.group(1)})["data"]
            if values:
                return say("ok", what, ", ".join(values[:4]))
            return say("FAIL", what, "no values")
        self.sql(what, var["query"])

    def dashboard(self, path):
        name = path.name
        d = json.loads(path.read_text(encoding="utf-8"))
        variables = {v["name"]: v for v in d["templating"]["list"]}
        problems = []
        if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 39:
            problems.append(f"schemaVersion {d.get('schemaVersion')}")
        if variables.get("datasource", {}).get("type") != "datasource":
            problems.append("no ${datasource} datasource variable")
        for v in ("target", "model"):
            if v not in variables:
                problems.append(f"no ${v} variable")
        panels = [p for p in d["panels"] if p["type"] != "row"]
        ids = [p["id"] for p in d["panels"]]
        if len(ids) != len(set(ids)):
            problems.append("duplicate panel ids")
        for p in panels:
            uid = p["datasource"]["uid"]
            if not (uid.startswith("${") and uid[2:-1] in variables):
                problems.append(f"panel {p['title']!r} uses datasource {uid!r}, not a variable")
        say("FAIL" if problems else "ok", f"{name}: structure",
            "; ".join(problems) if problems else f"{len(panels)} panels, variables {', '.join(variables)}")
        for var in variables.values():
            self.variable(name, var)
        for p in panels:
            for t in p["targets"]:
                what = f"{name}: {p['title']} [{t['refId']}]"
                if "expr" in t:
                    self.returns_data(what, self.substitute(t["expr"]))
                else:
                    self.sql(what, t["rawSql"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--psql", required=True)
    parser.add_argument("--range", default="10m")
    parser.add_argument("what", nargs="*", default=["rules", "dashboards"])
    args = parser.parse_args()
    checker = Checker(args)
    print(f"  collector exports acd_context_* families: {'yes' if checker.has_context else 'no'}")
    if "rules" in args.what:
        checker.rules()
    if "dashboards" in args.what:
        for path in sorted((REPO / "dashboards").glob("*.json")):
            checker.dashboard(path)
    if failures:
        print(f"  {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
