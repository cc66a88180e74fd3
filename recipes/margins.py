"""Split a choice-mode pairwise run's A−B log-prob margins into the part that stays with the position and the part
that flips with the order of the candidates: `python recipes/margins.py RUN_DIR [RUN_DIR ...]`.

For an item judged in both orders with margins m1 (original order) and m2 (swapped), (m1 + m2) / 2 is the position
part (a judge that reads the answers would keep it near 0) and (m1 − m2) / 2 the content part.  Reads the run's
``judgments.sqlite`` (stored choice log-probs) only.
"""
from __future__ import annotations

import json
import sqlite3
import statistics as st
import sys
from collections import defaultdict
from pathlib import Path


def decompose(run_dir: Path) -> dict[str, float]:
    db = sqlite3.connect(f"file:{run_dir / 'judgments.sqlite'}?mode=ro", uri=True)
    margins: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for task, ex, slot, lp in db.execute("SELECT task, example_id, slot, choice_logprobs FROM judgments "
                                         "WHERE status = 'ok' AND choice_logprobs IS NOT NULL"):
        c = json.loads(lp)
        if "A" in c and "B" in c:
            margins[(task, ex)][slot] = c["A"] - c["B"]
    pairs = [(m["0-1"], m["1-0"]) for m in margins.values() if "0-1" in m and "1-0" in m]
    if not pairs:
        raise SystemExit(f"{run_dir}: no item with choice log-probs in both orders")
    pos = [(a + b) / 2 for a, b in pairs]
    content = [(a - b) / 2 for a, b in pairs]
    return {"n": len(pairs), "position_mean": st.mean(pos), "position_sd": st.pstdev(pos),
            "content_sd": st.pstdev(content), "consistency": sum((a > 0) != (b > 0) for a, b in pairs) / len(pairs)}


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        d = decompose(Path(arg))
        print(f"{arg}: n {d['n']}, position part mean {d['position_mean']:+.3f} sd {d['position_sd']:.3f}, "
              f"content part sd {d['content_sd']:.3f}, order consistency {d['consistency']:.3f}")
