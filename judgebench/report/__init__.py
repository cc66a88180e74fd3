"""Comparing judges side by side: item alignment, paired statistics, bias, tables and the HTML report."""
from __future__ import annotations

from .align import Alignment, align_runs
from .compare import build_comparison

__all__ = ["Alignment", "align_runs", "build_comparison"]
