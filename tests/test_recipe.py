"""The DCGAN recipe's record: what benchmarks/README.md quotes is the recorded file, and the
recorded "current" recipe is what ``train dcgan`` uses."""

import importlib.util
import json
import sys
from pathlib import Path

from gannotes.training import default_config

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "dcgan_recipe.json"


def _script():
    path = ROOT / "benchmarks" / "dcgan_recipe.py"
    spec = importlib.util.spec_from_file_location("dcgan_recipe", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def test_the_readme_quotes_the_recorded_screen_and_side_by_side():
    readme = (ROOT / "benchmarks" / "README.md").read_text()
    for table in _script().tables().split("\n\n"):
        assert table in readme
    result = json.loads(RESULT.read_text())
    ratio = result["recipes"]["previous"]["fid_mean"] / result["recipes"]["current"]["fid_mean"]
    assert f"**{ratio:.1f}x**" in readme and result["fid_ratio_previous_over_current"] == round(
        ratio, 2
    )


def test_the_recorded_current_recipe_is_the_courses_default():
    recorded = json.loads(RESULT.read_text())["recipes"]["current"]["spec"]
    cfg = default_config("dcgan", "fashion-mnist")
    for knob in ("batch_size", "lr_g", "lr_d", "ema", "lr_decay"):
        assert getattr(cfg, knob) == recorded[knob], knob
    assert list(cfg.betas) == recorded["betas"]
    # "previous" is what `train dcgan --lr-g 5e-4 --lr-d 5e-4 --betas 0.5 0.999` trains
    spec = json.loads(RESULT.read_text())["recipes"]["previous"]["spec"]
    previous = default_config("dcgan", "fashion-mnist", lr_g=5e-4, lr_d=5e-4, betas=(0.5, 0.999))
    for knob in ("batch_size", "lr_g", "lr_d", "ema", "lr_decay"):
        assert getattr(previous, knob) == spec.get(knob, getattr(previous, knob)), knob
    assert list(previous.betas) == spec["betas"] and (spec["lr_g"], spec["lr_d"]) == (5e-4, 5e-4)


def test_every_run_covers_every_class_and_the_new_recipe_wins_every_seed():
    recipes = json.loads(RESULT.read_text())["recipes"]
    assert all(r["classes_covered"] == 10 for rec in recipes.values() for r in rec["runs"])
    worst_current = max(r["fid"] for r in recipes["current"]["runs"])
    best_previous = min(r["fid"] for r in recipes["previous"]["runs"])
    assert worst_current < best_previous
