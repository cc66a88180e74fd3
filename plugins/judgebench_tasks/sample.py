"""`sample` loader: the embedded default task — pairs whose correct answer is checked by code.

Generated deterministically by this project (no download): arithmetic (right vs subtly wrong),
word problems, sorting, a stated format (bullets, JSON, capitals) and a word limit (where the right
answer is the *shorter* one).  Every pair is verified by its checker when it is built.
"""
from __future__ import annotations

import json
import random
from typing import Callable, Iterator

from judgebench import ConfigError, Example, TaskLoader

Pair = tuple[str, str, str, Callable[[str], bool]]  # prompt, right, wrong, checker
FRUITS = ["apple", "banana", "cherry", "mango", "pear", "plum", "kiwi", "grape", "lemon", "peach", "fig", "lime"]
NAMES = ["Alice", "Bob", "Carmen", "Dmitri", "Esther", "Farid", "Grace", "Hiro", "Ines", "Jonas"]
ITEMS = [("pens", "box"), ("eggs", "carton"), ("apples", "bag"), ("books", "shelf"), ("chairs", "row")]


def _addition(r: random.Random) -> Pair:
    a, b = r.randint(100, 999), r.randint(100, 999)
    wrong = a + b + r.choice([-10, 10, -1, 1, -100, 100])
    return (f"What is {a} + {b}? Give the result.", f"{a} + {b} = {a + b}.", f"{a} + {b} = {wrong}.",
            lambda t: t.strip().rstrip(".").endswith(str(a + b)))


def _word_problem(r: random.Random) -> Pair:
    (thing, unit), per, n = r.choice(ITEMS), r.randint(3, 24), r.randint(3, 12)
    wrong = per * n + r.choice([-per, per, -2, 2])
    prompt = f"One {unit} holds {per} {thing}. How many {thing} are in {n} {unit}s? Show the calculation."
    return (prompt, f"{n} {unit}s × {per} {thing} = {per * n} {thing}.", f"{n} {unit}s × {per} {thing} = {wrong} {thing}.",
            lambda t: f"= {per * n} " in t)


def _sorting(r: random.Random) -> Pair:
    nums = r.sample(range(1, 100), 5)
    right = sorted(nums)
    wrong = right[:]
    i = r.randrange(4)
    wrong[i], wrong[i + 1] = wrong[i + 1], wrong[i]
    return (f"Sort these numbers in ascending order: {', '.join(map(str, nums))}.", ", ".join(map(str, right)),
            ", ".join(map(str, wrong)), lambda t: [int(x) for x in t.split(",")] == right)


TOPICS = {"fruits": FRUITS, "colours": ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"],
          "animals": ["cat", "dog", "horse", "otter", "eagle", "whale", "tiger", "frog"],
          "countries": ["France", "Peru", "Japan", "Kenya", "Canada", "Norway", "India", "Chile"],
          "instruments": ["violin", "piano", "flute", "drum", "cello", "harp", "oboe", "guitar"]}


def _bullets(r: random.Random) -> Pair:
    k, topic = r.randint(2, 6), r.choice(sorted(TOPICS))
    fr = r.sample(TOPICS[topic], k + 1)
    right = "\n".join(f"- {f.capitalize()}" for f in fr[:k])
    wrong = "\n".join(f"- {f.capitalize()}" for f in fr[:k + 1])
    return (f"List exactly {k} {topic} as bullet points, one per line, nothing else.", right, wrong,
            lambda t: len([ln for ln in t.splitlines() if ln.startswith("- ")]) == k)


def _json(r: random.Random) -> Pair:
    name, age = r.choice(NAMES), r.randint(18, 90)
    right = json.dumps({"name": name, "age": age})
    wrong = r.choice([json.dumps({"name": name}), f"{{'name': '{name}', 'age': {age}}}", json.dumps({"name": name, "age": str(age)})])

    def check(t: str) -> bool:
        try:
            d = json.loads(t)
        except ValueError:
            return False
        return d == {"name": name, "age": age}
    return (f"Return only a JSON object with the keys \"name\" and \"age\" (a number) for {name}, aged {age}.",
            right, wrong, check)


def _capitals(r: random.Random) -> Pair:
    topic = r.choice(sorted(TOPICS))
    f = r.choice(TOPICS[topic])
    text = f"The {f} is one of my favourite {topic} to talk about."
    return (f"Write one sentence about the {f} (one of the {topic}), in capital letters only.", text.upper(), text,
            lambda t: t == t.upper() and any(c.isalpha() for c in t))


def _word_limit(r: random.Random) -> Pair:
    f, n = r.choice(FRUITS + TOPICS["animals"]), r.randint(7, 12)
    short = f"The {f} is widely loved."
    long = (f"The {f} is well known and widely loved by people all around the world, who write about it, "
            f"draw it, and talk about it in stories, songs and conversations every single day.")
    return (f"Describe the {f} in at most {n} words.", short, long, lambda t: len(t.split()) <= n)


GENERATORS: dict[str, Callable[[random.Random], Pair]] = {
    "arithmetic": _addition, "word-problem": _word_problem, "sorting": _sorting, "bullets": _bullets,
    "json": _json, "capitals": _capitals, "word-limit": _word_limit,
}
SIZES = {"train": 420, "test": 140}


class SampleLoader(TaskLoader):
    """Options: ``sizes`` ({split: n}), ``seed`` (generation seed, default 2024)."""

    def __init__(self, base_dir=None, sizes: dict[str, int] | None = None, seed: int = 2024) -> None:
        super().__init__(base_dir)
        self.sizes, self.seed = {**SIZES, **(sizes or {})}, seed

    def pool(self) -> list[Example]:
        """All examples of all splits, drawn together so that no prompt appears in two splits."""
        r = random.Random(self.seed)
        total = sum(self.sizes.values())
        seen: set[str] = set()
        cats = list(GENERATORS)
        misses = dict.fromkeys(cats, 0)
        out: list[tuple[str, str, str, str]] = []
        i = 0
        while len(out) < total:
            live = [c for c in cats if misses[c] < 50]
            if not live:
                raise AssertionError("sample generators ran out of distinct prompts")
            cat = live[i % len(live)]
            i += 1
            prompt, right, wrong, check = GENERATORS[cat](r)
            if prompt in seen:  # a repeat of an earlier prompt: this category is running out
                misses[cat] += 1
                continue
            if not check(right) or check(wrong):
                raise AssertionError(f"sample generator '{cat}' built a pair its checker rejects: {prompt!r}")
            seen.add(prompt)
            out.append((cat, prompt, right, wrong))
        r.shuffle(out)
        examples = []
        for n, (cat, prompt, right, wrong) in enumerate(out):
            first_right = r.random() < 0.5
            examples.append(Example(id=f"s{n:04d}", prompt=prompt, candidates=(right, wrong) if first_right else (wrong, right),
                                    labels=(0,) if first_right else (1,), category=cat))
        return examples

    def load(self, split: str) -> Iterator[Example]:
        if split not in self.sizes:
            raise ConfigError(f"task 'sample' has splits {sorted(self.sizes)}, not '{split}'")
        start = 0
        for name in sorted(self.sizes, key=lambda s: (s != "test", s)):  # test first, then the others
            if name == split:
                yield from self.pool()[start:start + self.sizes[name]]
                return
            start += self.sizes[name]
