"""The HTML report of two real runs, opened in headless Chromium: renders tables and plots, requests nothing."""
from __future__ import annotations

import http.server
import re
import shutil
import struct
import subprocess
import threading
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from judgebench.report.compare import build_comparison
from judgebench.report.html import plots
from judgebench.results import load_run

from .test_report_cli import jb, real_runs  # noqa: F401  (module fixture: two real runs)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Chromium's own background services (updates, network time, sign-in) still call out under these flags; they are
# the browser's traffic, not the page's, so they are set aside. Anything else the page asked for is a leak.
BROWSER_SERVICES = {"update.googleapis.com", "clients2.google.com", "accounts.google.com",
                    "safebrowsing.googleapis.com", "optimizationguide-pa.googleapis.com",
                    "www.google.com"}  # newer Chromium builds also probe connectivity there


def page_requests(seen: list[str]) -> list[str]:
    """The recorded proxy request lines whose host is not one of Chromium's own services."""
    hosts = [(line, re.sub(r"^\w+ (?:https?://)?([^/:\s]+).*$", r"\1", line)) for line in seen]
    return [line for line, host in hosts if host not in BROWSER_SERVICES]


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A proxy that answers every request with 502 and remembers it."""

    seen: ClassVar[list[str]] = []

    def _any(self) -> None:
        self.seen.append(self.requestline)
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = do_OPTIONS = _any

    def log_message(self, *a) -> None:
        pass


@pytest.fixture
def proxy():
    _Recorder.seen = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1], _Recorder.seen
    srv.shutdown()
    srv.server_close()


def chromium(page: Path, tmp: Path, port: int, *extra: str) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is required (apt-get install -y chromium)"
    profile = tmp / f"profile{len(list(tmp.glob('profile*')))}"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{port}",
           "--proxy-bypass-list=<-loopback>", *extra, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def png_pixels(path: Path) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into an (h, w, 3) uint8 array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h, bpp = 8, b"", 0, 0, 3
    while pos < len(data):
        (n,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    stride = w * bpp
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, stride + 1)
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:]
        if f == 0:
            cur = line.copy()
        elif f == 1:  # Sub: running sum per channel
            cur = (np.cumsum(line.reshape(w, bpp), axis=0, dtype=np.int64) % 256).astype(np.uint8).ravel()
        elif f == 2:  # Up
            cur = line + prev
        else:  # Average / Paeth depend on the pixel to the left: byte by byte
            cur, up = bytearray(line.tobytes()), prev.tobytes()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b, c = up[i], (up[i - bpp] if i >= bpp else 0)
                if f == 3:
                    cur[i] = (cur[i] + (a + b) // 2) & 255
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            cur = np.frombuffer(bytes(cur), dtype=np.uint8)
        out[y] = prev = cur
    return out.reshape(h, w, bpp)[:, :, :3]


def test_the_request_detector_catches_an_external_request(proxy, tmp_path):
    port, seen = proxy
    page = tmp_path / "leaky.html"
    page.write_text("<html><head><link rel='stylesheet' href='https://judgebench-test.invalid/a.css'></head>"
                    "<body><img src='http://judgebench-test.invalid/pixel.png'><p>x</p></body></html>")
    chromium(page, tmp_path, port, "--dump-dom")
    leaks = page_requests(seen)
    assert all("judgebench-test.invalid" in s for s in leaks), seen
    assert any(s.startswith("GET http://judgebench-test.invalid/pixel.png") for s in leaks), seen
    assert any(s.startswith("CONNECT judgebench-test.invalid:443") for s in leaks), seen


def test_html_report_renders_tables_and_plots_offline(real_runs, proxy, tmp_path):  # noqa: F811
    port, seen = proxy
    page = tmp_path / "report.html"
    assert jb("report", str(real_runs["longer"]), str(real_runs["random"]), "--out", str(page)) == 0
    html = page.read_text()
    assert not re.search(r"<(script|link|img|iframe)\b|@import|url\(|\b(src|href)=", html, re.IGNORECASE)
    c = build_comparison([load_run(real_runs["longer"]), load_run(real_runs["random"])])
    n_plots = len(plots(c))
    assert n_plots == 6  # summary, difference, scores by category, first position, longer answer, speed

    dom = chromium(page, tmp_path, port, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert len(re.findall(r"<svg\b", dom.stdout)) == n_plots
    # summary, judges, difference, position-calibrated score, per category, bias, cost
    assert len(re.findall(r"<table\b", dom.stdout)) == 7
    assert "Position-calibrated score" in dom.stdout
    assert "Scores by judge and task" in dom.stdout and "baseline:random (generate)" in dom.stdout
    assert len(re.findall(r"class=\"bar\"", dom.stdout)) >= 20

    shot = tmp_path / "shot.png"
    r = chromium(page, tmp_path, port, f"--screenshot={shot}", "--window-size=1400,2400", "--hide-scrollbars")
    assert shot.exists(), r.stderr[-2000:]
    px = png_pixels(shot)
    assert px.shape == (2400, 1400, 3)
    non_white = float(np.mean(np.any(px != 255, axis=2)))
    assert 0.02 < non_white < 0.6, non_white
    for hexcolor in ("0072B2", "E69F00"):  # the two judges' bars are drawn
        rgb = np.frombuffer(bytes.fromhex(hexcolor), dtype=np.uint8)
        assert np.sum(np.all(px == rgb, axis=2)) > 500, hexcolor
    assert page_requests(seen) == [], f"the report made network requests: {seen}"
