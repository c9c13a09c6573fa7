"""The metric names a PromQL expression reads, by lexing it (strings, durations, label matchers,
grouping clauses and function calls are told apart), and the operator's exported series names."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry

# Tokens in the order they are tried; only IDENT can be a metric name.
_TOKEN = re.compile(
    r"""
    (?P<STRING>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<RANGE>\[[^\]]*\])
  | (?P<DURATION>(?:\d+(?:ms|[smhdwy]))+(?![a-zA-Z0-9_:]))
  | (?P<NUMBER>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<IDENT>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<VAR>\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?)
  | (?P<LBRACE>\{) | (?P<RBRACE>\}) | (?P<LPAREN>\() | (?P<RPAREN>\))
  | (?P<SPACE>\s+)
  | (?P<OTHER>[-+*/%^=!<>~,@]+)
    """,
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
# ``sum by (x) (...)``: an aggregation may put its grouping clause before its parenthesis.
AGGREGATIONS = {
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
}


def tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ValueError(f"cannot lex PromQL at {pos}: {expr[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        if kind != "SPACE":
            out.append((kind, m.group()))
        pos = m.end()
    return out


def metric_names(expr: str) -> set[str]:
    """Names of the series ``expr`` selects: ``rate(foo_total{a="b"}[5m]) by (x)`` -> {foo_total}.

    Also ``{__name__="foo"}`` matchers. Label names inside ``{...}`` and ``by (...)`` / ``on (...)``
    lists, function names (an identifier followed by ``(``) and keywords are not metric names.
    """
    toks = tokens(expr)
    names: set[str] = set()
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        if kind == "LBRACE":  # label matchers: skip, except __name__
            j = i + 1
            while toks[j][0] != "RBRACE":
                if toks[j] == ("IDENT", "__name__") and toks[j + 1] == ("OTHER", "=") and toks[j + 2][0] == "STRING":
                    names.add(toks[j + 2][1][1:-1])
                j += 1
            i = j + 1
            continue
        if kind == "IDENT":
            following = toks[i + 1] if i + 1 < len(toks) else ("", "")
            if text in GROUPING:
                if following[0] == "LPAREN":  # skip the label list
                    j = i + 2
                    while toks[j][0] != "RPAREN":
                        j += 1
                    i = j + 1
                    continue
            elif text in AGGREGATIONS and following[1] in ("by", "without"):
                pass
            elif following[0] != "LPAREN" and text.lower() not in KEYWORDS:
                names.add(text)
        i += 1
    return names


def exported_series(registry: CollectorRegistry) -> set[str]:
    """Every series name a registry can expose: a histogram's _bucket/_sum/_count, a counter's
    _total (and _created), a gauge's own name, whether or not a labelled child exists yet."""
    names: set[str] = set()
    for metric in registry.collect():
        if metric.type == "histogram":
            names |= {f"{metric.name}_bucket", f"{metric.name}_sum", f"{metric.name}_count", f"{metric.name}_created"}
        elif metric.type == "counter":
            names |= {f"{metric.name}_total", f"{metric.name}_created"}
        elif metric.type == "summary":
            names |= {metric.name, f"{metric.name}_sum", f"{metric.name}_count", f"{metric.name}_created"}
        else:
            names.add(metric.name)
    return names
