"""`judgebench list`: installed plugins (with their distribution) and tasks, without importing plugins."""
from __future__ import annotations

import argparse
import json

from .. import registry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list installed plugins and tasks")
    p.add_argument("kind", nargs="?", choices=[*registry.NAMESPACES, "all"], default="all")
    p.add_argument("--check", action="store_true", help="also import each plugin and report the ones that fail")
    p.add_argument("--include-path", action="append", default=[], help="extra directory of task YAML files")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..task import TaskIndex

    kinds = list(registry.NAMESPACES) if args.kind == "all" else [args.kind]
    rows = []
    for kind in kinds:
        dups = registry.duplicates(kind)
        for p in registry.available(kind):
            status = "DUPLICATE NAME" if p.name in dups else "ok"
            if args.check and status == "ok":
                err = registry.check(kind, p.name)
                status = "ok" if err is None else f"BROKEN: {err}"
            rows.append({"kind": kind, "name": p.name, "distribution": f"{p.dist} {p.version}", "object": p.value,
                         "status": status if (args.check or status != "ok") else "not imported"})
    if args.kind in ("all", "task"):  # task folders shipped by packages: located, not imported
        from ..task_dirs import plugin_task_dirs

        for d in plugin_task_dirs():
            rows.append({"kind": "task folder", "name": d.name, "distribution": f"{d.dist} {d.version}",
                         "object": d.value, "status": f"BROKEN: {d.problem}" if d.problem
                         else ("ok" if args.check else "not imported")})
    tasks = TaskIndex(args.include_path).names() if args.kind in ("all", "task") else []
    bad = [r for r in rows if r["status"].startswith(("BROKEN", "DUPLICATE"))]
    code = 2 if args.check and bad else 0  # CI can gate on `judgebench list --check`
    if args.json:
        print(json.dumps({"plugins": rows, "tasks": tasks}, indent=2))
        return _report_broken(bad) if code else 0
    t = Table(title="judgebench plugins")
    for c in ("kind", "name", "distribution", "object", "status"):
        t.add_column(c)
    for r in rows:
        t.add_row(*(r[c] for c in ("kind", "name", "distribution", "object", "status")))
    con = Console(width=160)
    con.print(t)
    if tasks:
        con.print("[bold]tasks[/bold] (YAML definitions): " + ", ".join(tasks))
    return _report_broken(bad) if code else 0


def _report_broken(bad: list[dict]) -> int:
    import sys

    for r in bad:
        print(f"judgebench list: error: {r['kind']} '{r['name']}' ({r['distribution']}): {r['status']}", file=sys.stderr)
    print(f"judgebench list: {len(bad)} plugin(s) broken or duplicated", file=sys.stderr)
    return 2
