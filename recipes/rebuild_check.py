"""How close a rebuilt tuned judge lands to another build of the same recipe:
`python recipes/rebuild_check.py JUDGE_A JUDGE_B [--runs RUN_A RUN_B]`.

JUDGE_A / JUDGE_B are directories holding an ``adapter_model.safetensors`` (a `judgebench tune` output, or the
shipped ``plugins/judgebench_hf/judges/smollm2-judge``).  Prints whether the weight files are identical, and over all
tensors the largest absolute difference and the relative L2 distance (‖a − b‖ / ‖a‖).  With ``--runs`` (the two judges' run directories on the same items) it also compares their
stored verdicts: the share of judgments with the same verdict and the largest difference of the A−B log-prob
margins.  Tensors stored in a lower precision are compared in float32.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

WEIGHTS = "adapter_model.safetensors"


def load(judge: Path) -> tuple[dict[str, Any], str]:
    from safetensors.torch import load_file

    path = judge / WEIGHTS
    if not path.is_file():
        raise SystemExit(f"{judge}: no {WEIGHTS}")
    return {k: v.float() for k, v in load_file(str(path)).items()}, hashlib.sha256(path.read_bytes()).hexdigest()


def compare_weights(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    import torch

    if set(a) != set(b):
        raise SystemExit(f"the adapters hold different tensors: {sorted(set(a) ^ set(b))[:5]}")
    worst, num, den = 0.0, 0.0, 0.0
    for k in sorted(a):
        if a[k].shape != b[k].shape:
            raise SystemExit(f"{k}: shape {tuple(a[k].shape)} vs {tuple(b[k].shape)}")
        d = (a[k] - b[k]).abs()
        worst = max(worst, float(d.max()))
        num += float(torch.sum(d * d))
        den += float(torch.sum(a[k] * a[k]))
    return {"tensors": len(a), "max_abs_diff": worst, "relative_l2": (num ** 0.5) / (den ** 0.5 or 1.0)}


def verdicts(run: Path) -> dict[tuple[str, str, str], tuple[str | None, float | None]]:
    if not (run / "judgments.sqlite").is_file():
        raise SystemExit(f"{run}: not a run directory (no judgments.sqlite)")
    db = sqlite3.connect(f"file:{run / 'judgments.sqlite'}?mode=ro", uri=True)
    out = {}
    for task, ex, slot, verdict, lp in db.execute("SELECT task, example_id, slot, verdict, choice_logprobs "
                                                  "FROM judgments WHERE status = 'ok'"):
        c = json.loads(lp) if lp else {}
        out[(task, ex, slot)] = (verdict, c["A"] - c["B"] if "A" in c and "B" in c else None)
    return out


def compare_runs(ra: Path, rb: Path) -> dict[str, Any]:
    va, vb = verdicts(ra), verdicts(rb)
    common = sorted(set(va) & set(vb))
    if not common:
        raise SystemExit(f"{ra} and {rb} share no judged item")
    same = sum(va[k][0] == vb[k][0] for k in common)
    margins = [abs(va[k][1] - vb[k][1]) for k in common if va[k][1] is not None and vb[k][1] is not None]
    return {"judgments": len(common), "same_verdict": same / len(common),
            "max_margin_diff": max(margins) if margins else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("judge_a", type=Path)
    ap.add_argument("judge_b", type=Path)
    ap.add_argument("--runs", nargs=2, type=Path, metavar=("RUN_A", "RUN_B"))
    args = ap.parse_args(argv)
    (wa, ha), (wb, hb) = load(args.judge_a), load(args.judge_b)
    print(f"weights: {'identical files' if ha == hb else 'different files'} (sha256 {ha[:12]} / {hb[:12]})")
    w = compare_weights(wa, wb)
    print(f"  {w['tensors']} tensors: max |a - b| {w['max_abs_diff']:.3g}, relative L2 {w['relative_l2']:.3g}")
    if args.runs:
        r = compare_runs(*args.runs)
        md = "n/a" if r["max_margin_diff"] is None else f"{r['max_margin_diff']:.3g}"
        print(f"verdicts: {r['judgments']} judgments in both runs, {100 * r['same_verdict']:.1f} % the same; "
              f"largest A-B margin difference {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
