"""Hosted judges: the request and token rates a run achieved and its 429s; a jury's members and their agreement."""
from __future__ import annotations

from typing import Any

from ..tables import Table
from . import Section, label, section, tidy


def _num(x: Any, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


@section
class RateLimits(Section):
    key = "rates"
    title = "Rate limits"
    order = 55

    def rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        return [tidy("rates", c, r, k, r.get(k), task="*") for r in c["cost"] if r.get("n_429") is not None
                for k in ("achieved_rpm", "achieved_tpm", "n_429", "concurrency_peak")]

    def tables(self, c: dict[str, Any]) -> list[Table]:
        rows = [[label(c, r["run"]), _num(r.get("achieved_rpm"), ",.0f"), _num(r.get("achieved_tpm"), ",.0f"),
                 str(r["n_429"]), _num(r.get("concurrency_peak"), "d")] for r in c["cost"] if r.get("n_429") is not None]
        if not rows:
            return []
        return [Table("Rate limits", ["judge", "requests / min", "tokens / min", "429 answers", "concurrency reached"],
                      rows, "achieved by the last session of each run, between its first and last answer.")]


@section
class Jury(Section):
    key = "jury"
    title = "Juries"
    order = 56

    def rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for r in c["cost"]:
            j = r.get("jury") or {}
            for m in j.get("members") or []:
                out.append({**tidy("jury", c, r, "agree_with_jury", m["agree_with_jury"], n=m["n"], task="*"),
                            "category": m["member"]})
            for p in j.get("pairs") or []:
                out.append({**tidy("jury", c, r, "pair_kappa", p["kappa"], n=p["n"], task="*"),
                            "category": f"{p['a']} | {p['b']}"})
        return out

    def tables(self, c: dict[str, Any]) -> list[Table]:
        out = []
        for r in c["cost"]:
            j = r.get("jury")
            if not j:
                continue
            rows = [[m["member"], str(m["n"]), _num(m["agree_with_jury"], ".1%"), "", ""] for m in j["members"]]
            rows += [[f"{p['a']} vs {p['b']}", str(p["n"]), "", _num(p["agreement"], ".1%"), _num(p["kappa"], ".2f")]
                     for p in j["pairs"]]
            out.append(Table(f"Jury {label(c, r['run'])} ({j.get('aggregate')})",
                             ["member / pair", "answers", "agrees with the jury", "pair agreement", "Cohen's kappa"],
                             rows, f"all members agreed on {_num(j.get('unanimous'), '.1%')} of the requests; "
                                   f"each member alone: run it with the same task (served from the cache) and "
                                   f"compare it with the jury."))
        return out
