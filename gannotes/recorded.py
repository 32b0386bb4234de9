"""Recorded full-budget results, as notebooks show them beside their short live runs.

A benchmark (e.g. ``benchmarks/training_process.py``) records each comparison as variants with
one value per seed for each metric, plus ``METRIC_summary`` (mean, sd, min, max). A notebook
prints such a section with :func:`recorded_table` and says which variants differ from a
baseline with :func:`separated`: a variant is *above* (or *below*) the baseline only when every
one of its seeds lies beyond every seed of the baseline, the rule the course's prose and tests
use before calling a difference more than noise.
"""

from __future__ import annotations

from typing import Any

__all__ = ["recorded_table", "separated"]


def separated(
    variants: dict[str, dict[str, Any]], metric: str, baseline: str = "plain"
) -> dict[str, list[str]]:
    """``{"above": [...], "below": [...]}``: the variants whose every seed's ``metric`` is above
    the baseline's best seed, or below its worst. The others overlap it (noise at this many
    seeds)."""
    if baseline not in variants:
        raise ValueError(f"baseline {baseline!r} is not a variant; variants: {sorted(variants)}")
    base = variants[baseline][metric]
    out: dict[str, list[str]] = {"above": [], "below": []}
    for name, row in variants.items():
        if name == baseline:
            continue
        if min(row[metric]) > max(base):
            out["above"].append(name)
        elif max(row[metric]) < min(base):
            out["below"].append(name)
    return out


def recorded_table(section: dict[str, Any], metrics: list[str]) -> str:
    """One recorded comparison as text: a heading with its budget, seeds and command, then per
    variant and metric each seed's value and mean +- standard deviation over the seeds."""
    seeds = ", ".join(map(str, section["seeds"]))
    lines = [
        f"RECORDED (not this run): {section['steps']:,} steps, seeds {seeds}, "
        f"`{section['command']}`"
    ]
    for name, row in section["variants"].items():
        cols = []
        for m in metrics:
            s = row[m + "_summary"]
            each = " ".join(f"{v:g}" for v in row[m])
            cols.append(f"{m} {each} ({s['mean']:.3g} +- {s['sd']:.2g})")
        lines.append(f"  {name:28s} " + " | ".join(cols))
    return "\n".join(lines)
