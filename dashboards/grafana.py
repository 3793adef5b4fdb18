"""Building blocks of the acd Grafana dashboards (classic JSON model): datasource references,
PRD threshold steps, panel and variable constructors and a left-to-right grid layout. Used by
generate.py, which declares the dashboards themselves."""

SCHEMA_VERSION = 41  # Grafana 12.x classic dashboards
PROM = {"type": "prometheus", "uid": "${datasource}"}
PG = {"type": "grafana-postgresql-datasource", "uid": "${postgres}"}
M = 'model=~"$model"'
T = 'target=~"$target"'
RI = "$__rate_interval"
RANGE = "$__range"

# PRD targets (docs: alerts/README.md) as Grafana threshold steps.
def steps(*pairs):
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in pairs]}


AT_LEAST_15 = steps(("red", None), ("green", 0.15))
AT_LEAST_60 = steps(("red", None), ("green", 0.60))
BAND_70_90 = steps(("red", None), ("green", 0.70), ("red", 0.90))
AT_LEAST_95 = steps(("red", None), ("green", 0.95))
AT_LEAST_80 = steps(("red", None), ("green", 0.80))
UNDER_30S = steps(("green", None), ("red", 30))
NEUTRAL = steps(("blue", None))


class Layout:
    """Places panels left to right in rows of 24 grid units."""

    def __init__(self):
        self.x, self.y, self.row_h, self.next_id = 0, 0, 0, 1

    def place(self, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def id(self):
        self.next_id += 1
        return self.next_id - 1


def prom_target(expr, legend="", ref="A", fmt=None, instant=False):
    t = {"refId": ref, "datasource": PROM, "expr": expr, "legendFormat": legend, "range": not instant}
    if instant:
        t["instant"] = True
    if fmt:
        t["format"] = fmt
    return t


def panel(lay, kind, title, description, targets, w=6, h=6, unit=None, thresholds=NEUTRAL,
          minmax=None, options=None, custom=None, datasource=PROM):
    defaults = {"thresholds": thresholds, "color": {"mode": "thresholds" if kind == "stat" else "palette-classic"}}
    if unit:
        defaults["unit"] = unit
    if minmax:
        defaults["min"], defaults["max"] = minmax
    if custom:
        defaults["custom"] = custom
    return {
        "id": lay.id(),
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource,
        "gridPos": lay.place(w, h),
        "targets": [t if isinstance(t, dict) else prom_target(*t) for t in targets],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
    }


def stat(lay, title, description, expr, unit, thresholds, w=4, h=5, legend="", minmax=None):
    return panel(lay, "stat", title, description, [prom_target(expr, legend, instant=True)], w=w,
                 h=h, unit=unit, thresholds=thresholds, minmax=minmax,
                 options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                          "colorMode": "background", "graphMode": "none", "textMode": "auto"})


def series(lay, title, description, targets, unit=None, thresholds=NEUTRAL, w=12, h=8,
           minmax=None, stack=False, bars=False):
    custom = {"drawStyle": "bars" if bars else "line", "fillOpacity": 20 if stack or bars else 0,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"},
              "thresholdsStyle": {"mode": "off" if thresholds is NEUTRAL else "line+area"}}
    return panel(lay, "timeseries", title, description, targets, w=w, h=h, unit=unit,
                 thresholds=thresholds, minmax=minmax, custom=custom,
                 options={"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
                          "tooltip": {"mode": "multi", "sort": "desc"}})


def heatmap(lay, title, description, metric, w=12, h=8):
    expr = f"sum by (le) (increase({metric}_bucket{{{M}}}[{RI}]))"
    p = panel(lay, "heatmap", title, description, [prom_target(expr, "{{le}}", fmt="heatmap")],
              w=w, h=h, unit="s")
    p["options"] = {"calculate": False, "yAxis": {"unit": "s"}, "cellGap": 1,
                    "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                    "rowsFrame": {"layout": "auto"}}
    return p


def quantiles(metric, by="model"):
    return [prom_target(f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{{{M}}}[{RI}])))",
                        f"p{int(q * 100)} {{{{{by}}}}}", ref)
            for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))]


def row(lay, title):
    lay.x, lay.y = 0, lay.y + lay.row_h
    lay.row_h = 0
    p = {"id": lay.id(), "type": "row", "title": title, "collapsed": False, "panels": [],
         "gridPos": {"h": 1, "w": 24, "x": 0, "y": lay.y}}
    lay.y += 1
    return p


def prom_variable(name, label, query):
    return {"name": name, "label": label, "type": "query", "datasource": PROM,
            "query": {"query": query, "refId": f"{name}-values", "qryType": 1}, "definition": query,
            "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2, "sort": 1,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "hide": 0,
            "regex": "", "options": []}


def datasource_variable(name, label, plugin):
    return {"name": name, "label": label, "type": "datasource", "query": plugin, "current": {},
            "hide": 0, "includeAll": False, "multi": False, "refresh": 1, "regex": "", "options": []}


PROM_VARIABLES = [
    datasource_variable("datasource", "Prometheus", "prometheus"),
    prom_variable("target", "Target",
                  'label_values({__name__=~"acd_test_pass_rate|acd_tests_total|acd_codebase_files"}, target)'),
    prom_variable("model", "Model", "label_values(acd_model_requests_total, model)"),
]


def dashboard(uid, title, description, panels, variables=PROM_VARIABLES, links=True):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["acd"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "refresh": "1m",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
            "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
            "type": "dashboard"}]},
        "links": [{"title": "ACD dashboards", "type": "dashboards", "tags": ["acd"], "asDropdown": True,
                   "includeVars": True, "keepTime": True}] if links else [],
        "templating": {"list": variables},
        "panels": panels,
    }
