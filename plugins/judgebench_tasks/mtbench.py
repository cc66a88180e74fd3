"""`mt-bench-human` loader: lmsys/mt_bench_human_judgments — expert votes between two models' MT-Bench answers.

Schema (hub splits ``human``, 3,355 votes, and ``gpt4_pair``): ``question_id``, ``model_a``, ``model_b``,
``winner`` (``model_a`` | ``model_b`` | ``tie``, also ``tie (bothbad)``), ``judge``, ``conversation_a`` and
``conversation_b`` (lists of ``{"role", "content"}``: user, assistant, user, assistant) and ``turn`` (1 or 2: the
vote is about the answer to that turn's question).

Turn 1: the prompt is the first question, the candidates the two first answers.  Turn 2: the two conversations
differ from the first answer on, so the prompt gives both questions and each candidate is that model's whole
conversation (its first answer, then its second answer — the one being judged).  A tie vote is a pairwise tie.
``votes: each`` (default) makes every vote an example (id ``q<question_id>/<model_a>-vs-<model_b>/turn<t>/<judge>``);
``votes: majority`` makes one example per question, model pair and turn, labelled by the majority of its votes
(a split vote without majority is a tie).  Every example carries ``metadata["split_group"] = "q<question_id>"``
so that a train/test split keeps all votes on one question on the same side.

YAML ``source``: ``path`` (.json/.jsonl/.parquet file or folder in this schema) and/or ``hf``
(``lmsys/mt_bench_human_judgments``) with ``hf_split: human``; ``votes``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any, Iterator

from judgebench import ConfigError, Example, TaskLoader

from .formats import SourceRows

WINNERS = {"model_a": (0,), "model_b": (1,)}


def winner_labels(winner: str) -> tuple[int, ...] | None:
    if winner in WINNERS:
        return WINNERS[winner]
    return (0, 1) if winner.startswith("tie") else None


def turn_texts(conv: list[dict[str, Any]], turn: int) -> tuple[str, str] | None:
    """(prompt, candidate) for one model's conversation at ``turn``; None when the conversation is too short."""
    users = [m.get("content") for m in conv if m.get("role") == "user"]
    answers = [m.get("content") for m in conv if m.get("role") == "assistant"]
    if len(users) < turn or len(answers) < turn or not all(isinstance(x, str) for x in users[:turn] + answers[:turn]):
        return None
    if turn == 1:
        return users[0], answers[0]
    prompt = (f"[First question]\n{users[0]}\n\n[Second question — judge the answers to this one, in the context of "
              f"the conversation]\n{users[1]}")
    return prompt, f"[Answer to the first question]\n{answers[0]}\n\n[Answer to the second question]\n{answers[1]}"


class MTBenchHumanLoader(TaskLoader):
    def __init__(self, base_dir=None, path: str | None = None, hf: str | None = None, hf_split: str | None = "human",
                 votes: str = "each") -> None:
        super().__init__(base_dir)
        if votes not in ("each", "majority"):
            raise ConfigError(f"mt-bench-human loader: votes must be each or majority, not {votes!r}")
        self.src = SourceRows(self, path, hf, hf_split=hf_split, what="mt-bench-human loader")
        self.votes = votes

    def load(self, split: str) -> Iterator[Example]:
        examples = [ex for source, n, row in self.src.rows(split) if (ex := self.to_example(source, n, row))]
        if self.votes == "each":
            seen: Counter[str] = Counter()
            for ex in examples:
                seen[ex.id] += 1
                yield ex if seen[ex.id] == 1 else replace(ex, id=f"{ex.id}#{seen[ex.id]}")
            return
        groups: dict[str, list[Example]] = {}
        for ex in examples:
            groups.setdefault(ex.id.rsplit("/", 1)[0], []).append(ex)
        for key, exs in groups.items():
            counts = Counter(ex.labels for ex in exs)
            top, c = counts.most_common(1)[0]
            labels = top if c * 2 > len(exs) else (0, 1)
            first = exs[0]
            yield Example(id=key, prompt=first.prompt, candidates=first.candidates, labels=labels,
                          category=first.category, metadata={**first.metadata, "judge": None, "n_votes": len(exs),
                                                             "votes": [list(ex.labels) for ex in exs]})

    def to_example(self, source: str, n: int, row: dict[str, Any]) -> Example | None:
        for key in ("question_id", "model_a", "model_b", "winner", "judge", "turn"):
            if row.get(key) is None:
                return self.reject(source, n, key, "missing")
        turn = row["turn"]
        if isinstance(turn, bool) or turn not in (1, 2):
            return self.reject(source, n, "turn", f"must be 1 or 2, got {turn!r}")
        labels = winner_labels(str(row["winner"]))
        if labels is None:
            return self.reject(source, n, "winner", f"must be model_a, model_b or tie, got {row['winner']!r}")
        sides = []
        for key in ("conversation_a", "conversation_b"):
            conv = row.get(key)
            texts = turn_texts(list(conv), int(turn)) if isinstance(conv, (list, tuple)) else None
            if texts is None:
                return self.reject(source, n, key, f"needs user and assistant messages up to turn {turn}")
            sides.append(texts)
        if sides[0][0] != sides[1][0]:
            return self.reject(source, n, "conversation_b", "the two conversations ask different questions")
        qid = str(row["question_id"])
        rid = f"q{qid}/{row['model_a']}-vs-{row['model_b']}/turn{turn}/{row['judge']}"
        return Example(id=rid, prompt=sides[0][0], candidates=(sides[0][1], sides[1][1]), labels=labels,
                       category=f"turn{turn}", metadata={"split_group": f"q{qid}", "model_a": row["model_a"],
                                                         "model_b": row["model_b"], "judge": row["judge"]})
