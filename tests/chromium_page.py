"""Headless Chromium for page tests: dump a page's DOM after its scripts ran, or take a screenshot."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium(url: str, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run Chromium on ``url`` with a fresh profile under ``tmp``."""
    assert CHROMIUM, "chromium is required (apt-get install -y chromium)"
    profile = tmp / f"profile{len(list(tmp.glob('profile*')))}"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def dump_dom(url: str, tmp: Path, width: int = 1400, height: int = 1000) -> str:
    """The DOM after the page's scripts ran (``--dump-dom``)."""
    r = chromium(url, tmp, "--dump-dom", f"--window-size={width},{height}", "--virtual-time-budget=5000")
    assert r.returncode == 0 and "<html" in r.stdout, r.stderr[-2000:]
    return r.stdout


def element_text(dom: str, element_id: str) -> str:
    """The text content of the element with this id in a dumped DOM (entities unescaped)."""
    from html import unescape

    m = re.search(rf"<(\w+)[^>]*\bid=\"{element_id}\"[^>]*>(.*?)</\1>", dom, re.DOTALL)
    assert m, f"no element #{element_id} in the DOM"
    return unescape(re.sub(r"<[^>]+>", "", m.group(2)))
