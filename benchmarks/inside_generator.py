"""Inside a trained generator, measured on the shipped DCGAN and StyleGAN (notebook 10).

    python benchmarks/inside_generator.py            # about 25 CPU-minutes on one core
    python benchmarks/inside_generator.py --tables   # benchmarks/README.md's tables, from the file
    python benchmarks/inside_generator.py --dissect  # re-measure the dissection only (8 CPU-min)

Writes benchmarks/results/inside_generator.json. Every verdict is taken twice: by the course's
classifier (gannotes.features, which the tools themselves use) and by the independent classifier
of benchmarks/classifier.py (which they never see), so that an edit that only fools the course's
classifier would show.

* **invert**: the first 500 test images, ``invert`` with its defaults (optimise, 200 steps;
  z for the DCGAN, w and w+ for StyleGAN): class kept (against the true labels), pixel RMS error
  against the RMS error of the nearest of 5,000 random samples of the same generator.
* **edit**: for each class C, 600 samples (seed 0), those the independent classifier does not
  already call C (up to 500), ``edit_toward`` C at strength 1: the share then called C.
* **dissect**: for each class C, ``dissect`` the DCGAN's default layer with the default number of
  units (the fewest that bring the class to 0.4 times its share of dissect's own 2,000
  samples), then the share of C among 5,000 other samples (seed 100) with those units off, and with as many random units off
  (5 draws).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

import classifier  # noqa: E402

from gannotes.checkpoint import atomic_write_bytes  # noqa: E402
from gannotes.data import CLASSES, dataset_tensors  # noqa: E402
from gannotes.dissection import ablated, dissect  # noqa: E402
from gannotes.editing import classify, edit_toward, label_pool  # noqa: E402
from gannotes.inversion import invert, latent_space, pixel_loss  # noqa: E402
from gannotes.training import load_family  # noqa: E402

CHECKPOINTS = ROOT.parent / "data" / "checkpoints"
OUT = ROOT / "results" / "inside_generator.json"


def independent(images: torch.Tensor) -> torch.Tensor:
    return classifier.features_and_probs(images)[1].argmax(1)


def course(images: torch.Tensor) -> torch.Tensor:
    return classify(images).argmax(1)


def measure_inversion(family, space: str, x, y) -> dict:
    inv = invert(family, x, space=space)
    err = pixel_loss(inv.images, x).sqrt()
    samples = family.sample(5000, seed=12345)
    nearest = torch.cdist(x.flatten(1), samples.flatten(1)).min(1).values / 28  # RMS over pixels
    return {
        "space": space,
        "n": len(x),
        "class_kept_course": float((course(inv.images) == y).float().mean()),
        "class_kept_independent": float((independent(inv.images) == y).float().mean()),
        "pixel_rms": float(err.mean()),
        "nearest_of_5000_rms": float(nearest.mean()),
        "share_closer_than_nearest_sample": float((err < nearest).float().mean()),
        "seconds_per_image": inv.seconds_per_image,
    }


def measure_edits(family) -> list[dict]:
    space = latent_space(family)
    pool = label_pool(space)
    inputs = family.latent(600, torch.Generator().manual_seed(0))
    z, *noise = inputs if isinstance(inputs, tuple) else (inputs,)
    latents = space.from_z(z)
    before = independent(space.render(latents, noise or None))
    rows = []
    for c in range(10):
        keep = (before != c).nonzero().flatten()[:500]
        sub_noise = [m[keep] for m in noise] or None
        edited = edit_toward(space, latents[keep], c, pool=pool)
        x = space.render(edited, sub_noise)
        rows.append(
            {
                "class": c,
                "n": len(keep),
                "reached_independent": float((independent(x) == c).float().mean()),
                "reached_course": float((course(x) == c).float().mean()),
                "pixel_change_rms": float(
                    pixel_loss(x, space.render(latents[keep], sub_noise)).sqrt().mean()
                ),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def share(family, c: int, judge) -> float:
    x = family.sample(5000, seed=100)
    return float((judge(x) == c).float().mean())


def measure_dissection(family) -> list[dict]:
    rows = []
    g = torch.Generator().manual_seed(0)
    for c in range(10):
        r = dissect(family, c)  # the CLI's default: the fewest units that halve the class
        row = {"class": c, "layer": r["layer"], "units": r["units"]}
        for name, judge in (("independent", independent), ("course", course)):
            row[f"share_{name}"] = share(family, c, judge)
        with ablated(family, r["layer"], r["units"]):
            for name, judge in (("independent", independent), ("course", course)):
                row[f"share_units_off_{name}"] = share(family, c, judge)
        randoms = []
        for _ in range(5):
            units = torch.randperm(r["channels"], generator=g)[: len(r["units"])].tolist()
            with ablated(family, r["layer"], units):
                randoms.append(share(family, c, independent))
        row["share_random_off_independent"] = randoms
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def tables(result: dict) -> str:
    """The Markdown tables of benchmarks/README.md, from a result (tests compare them)."""
    lines = [
        "| Generator | Space | Class kept (course / independent) | Pixel RMS | Nearest of 5,000 "
        "samples | Closer than it | s / image |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, rows in result["invert"].items():
        for r in rows:
            lines.append(
                f"| {model} | {r['space']} | {r['class_kept_course']:.1%} / "
                f"{r['class_kept_independent']:.1%} | {r['pixel_rms']:.3f} | "
                f"{r['nearest_of_5000_rms']:.3f} | {r['share_closer_than_nearest_sample']:.1%} | "
                f"{r['seconds_per_image']:.2f} |"
            )
    lines += ["", "| Toward | " + " | ".join(CLASSES) + " |", "|---|" + "---|" * 10]
    for model, rows in result["edit"].items():
        cells = " | ".join(f"{r['reached_independent']:.0%}" for r in rows)
        lines.append(f"| {model} (independent classifier) | {cells} |")
    lines += [
        "",
        "| Class | Units off | Share | With them off | With as many random units off (5 draws) |",
        "|---|---|---|---|---|",
    ]
    for r in result["dissect"]["dcgan"]:
        randoms = ", ".join(f"{v:.1%}" for v in r["share_random_off_independent"])
        lines.append(
            f"| {CLASSES[r['class']]} | {len(r['units'])} | {r['share_independent']:.1%} | "
            f"{r['share_units_off_independent']:.1%} | {randoms} |"
        )
    return "\n".join(lines)


def main() -> int:
    if sys.argv[1:] == ["--tables"]:  # print the README's tables from the recorded result
        print(tables(json.loads(OUT.read_text())))
        return 0
    torch.set_num_threads(1)
    start = time.perf_counter()
    test, _ = dataset_tensors("fashion-mnist", "test", limit=500)
    x, y = test["images"], test["labels"]
    dcgan = load_family(CHECKPOINTS / "dcgan.pt")
    stylegan = load_family(CHECKPOINTS / "stylegan.pt")
    result: dict = {
        "command": "python benchmarks/inside_generator.py",
        "torch": torch.__version__,
        "independent_classifier_test_accuracy": classifier.test_accuracy(),
    }
    if sys.argv[1:] == ["--dissect"]:  # only the dissection, into the recorded file
        result = json.loads(OUT.read_text())
        result["dissect"] = {"dcgan": measure_dissection(dcgan)}
        atomic_write_bytes(OUT, (json.dumps(result, indent=1) + "\n").encode())
        print(f"wrote the dissection to {OUT}")
        return 0
    result["invert"] = {
        "dcgan": [measure_inversion(dcgan, "z", x, y)],
        "stylegan": [measure_inversion(stylegan, s, x, y) for s in ("w", "w+")],
    }
    print(json.dumps(result["invert"]), flush=True)
    result["edit"] = {"dcgan": measure_edits(dcgan), "stylegan": measure_edits(stylegan)}
    result["dissect"] = {"dcgan": measure_dissection(dcgan)}
    result["seconds"] = round(time.perf_counter() - start)
    atomic_write_bytes(OUT, (json.dumps(result, indent=1) + "\n").encode())
    print(f"wrote {OUT} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
