"""Length-bucketed batches under a padded-token budget, and left padding with correct position ids."""
from __future__ import annotations

from typing import Any, Sequence


def length_batches(lengths: Sequence[int], max_tokens: int, max_rows: int, extra: int = 0) -> list[list[int]]:
    """Indices grouped into batches, longest first, so that rows x (longest row + ``extra``) <= ``max_tokens``
    (a row longer than the budget still gets a batch of its own) and no batch has more than ``max_rows`` rows.
    Sorting by length keeps padding small; callers restore the original order from the indices."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    cur: list[int] = []
    width = 0
    for i in order:
        w = max(width, lengths[i] + extra)
        if cur and ((len(cur) + 1) * w > max_tokens or len(cur) >= max_rows):
            batches.append(cur)
            cur, w = [], lengths[i] + extra
        cur.append(i)
        width = w
    if cur:
        batches.append(cur)
    return batches


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix shared by every row."""
    if not rows:
        return 0
    first = rows[0]
    n = min(len(r) for r in rows)
    for r in rows[1:]:
        k = 0
        while k < n and r[k] == first[k]:
            k += 1
        n = k
    return n


def pad_left(torch: Any, rows: Sequence[Sequence[int]], pad_id: int, device: str,
             offset: int = 0) -> tuple[Any, Any | None, Any | None]:
    """(input_ids, attention_mask, position_ids) for left-padded rows; mask and positions are None when no row is
    padded and ``offset`` is 0 (the fast path: the attention kernel needs no mask).  ``offset`` is the number of
    already-cached tokens before every row (a shared prefix)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r):] = torch.as_tensor(list(r), dtype=torch.long)
            mask[i, width - len(r):] = 1
    if all(len(r) == width for r in rows) and offset == 0:
        return ids.to(device), None, None
    pos = (mask.cumsum(-1) - 1).clamp(min=0) + offset
    return ids.to(device), mask.to(device), pos.to(device)
