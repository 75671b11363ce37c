"""The doctor's calibration table: each run's live verdicts beside an external check.

    python bench/doctor_calibration.py outputs/calib/* --markdown

For every run folder it reads health.jsonl and judges its recorded signals again with
the rules as they are now (the same verdicts the live checks give a run with the default
--on-trouble warn: the signals do not depend on the rules; the baseline comes from the
run's newest checkpoint), notes the verdicts the run wrote live and doctor.py's exit
code, then judges the run from outside the doctor:
- digit runs (grayscale): a small CNN trained once on the embedded digits (data/digits,
  10 class folders; cached in ~/.cache/dcgan-studio) labels 1,000 images of the run's
  newest generator; the table gives how many of the 10 classes get at least 2% of the
  images it labels with confidence >= 0.9, and the share of such confident labels;
- colour runs: the newest fixed-noise grid, to look at (its path is printed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gan.runs.folder import list_grids  # noqa: E402
from gan.settings.config import CACHE_ROOT, DIGITS_DEMO  # noqa: E402

CLASSIFIER = CACHE_ROOT / "digit_classifier_32.keras"
SAMPLES = 1000
CONFIDENT = 0.9
CLASS_SHARE = 0.02


def digit_classifier():
    """A small CNN on the embedded digits at 32x32 (about 98% on held-out digits), trained once."""
    import keras

    if CLASSIFIER.is_file():
        return keras.saving.load_model(CLASSIFIER)
    from gan.data.folders import load_image_folder

    images, labels = [], []
    for digit in range(10):
        loaded = load_image_folder(DIGITS_DEMO / str(digit), 32, 1).images
        images.append(loaded)
        labels.append(np.full(len(loaded), digit))
    x = np.concatenate(images).astype(np.float32) / 127.5 - 1
    y = np.concatenate(labels)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((32, 32, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dropout(0.3), keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    split = len(x) * 9 // 10
    model.fit(x[:split], y[:split], epochs=6, batch_size=64, verbose=0)
    accuracy = model.evaluate(x[split:], y[split:], verbose=0)[1]
    print(f"digit classifier: {accuracy:.1%} on {len(x) - split} held-out digits")
    CLASSIFIER.parent.mkdir(parents=True, exist_ok=True)
    model.save(CLASSIFIER)
    return model


def digit_classes(run: Path, classifier) -> tuple[int, float]:
    """Classes found and the share of confident labels among SAMPLES of the run's generator."""
    import keras

    from gan.runs.folder import generator_source

    generator = keras.saving.load_model(generator_source(run), safe_mode=True)
    noise = np.random.default_rng(0).standard_normal((SAMPLES, *generator.input_shape[1:]), dtype=np.float32)
    images = keras.ops.convert_to_numpy(generator.predict(noise, batch_size=250, verbose=0)).astype(np.float32)
    probabilities = classifier.predict(images, verbose=0)
    confident = probabilities.max(axis=1) >= CONFIDENT
    counts = np.bincount(probabilities.argmax(axis=1)[confident], minlength=10)
    return int((counts >= CLASS_SHARE * SAMPLES).sum()), float(confident.mean())


def judged_again(run: Path, records: list[dict], loss: str) -> list[tuple[int, str]]:
    """(step, verdict) of each recorded check under the current rules."""
    from gan.evaluation.health_rules import HealthState, judge
    from gan.runs.folder import RunDir, list_checkpoints
    from gan.training.losses import adversarial_loss

    baseline = list_checkpoints(RunDir(run, 1))[-1].read_state()["health"]["baseline"]
    checks = [r for r in records if "signals" in r.get("evidence", {})]
    if "structure_gap" not in baseline:
        baseline = with_structure_from_grids(run, checks, baseline)
    state = HealthState(baseline=baseline)
    probabilities = adversarial_loss(loss).discriminator_outputs_probabilities
    return [(r["step"], judge(r["evidence"]["signals"], state, r["step"], probabilities).verdict)
            for r in checks]


def with_structure_from_grids(run: Path, checks: list[dict], baseline: dict) -> dict:
    """For a run recorded before the structure signal: each check's structure_gap computed
    from the sample grid of its step, where there is one (the same fakes the check saw, stored as 8-bit PNG),
    and the baseline's from a freshly built untrained generator (as doctor.py's replay
    does). Fills the checks' signals in place; returns the completed baseline."""
    from gan.data.folders import open_image_folder
    from gan.runs.folder import RunDir
    from gan.settings.config import TrainConfig
    from gan.training.health import real_reference
    from gan.training.offline_doctor import cut_grid, grid_count, untrained_baseline

    config = TrainConfig.load(run / "config.json")
    reference = real_reference(open_image_folder(config.data, config.image_size, config.channels), config)
    run_dir = RunDir(run, config.steps)
    for check in checks:
        grid = run_dir.sample_grid(check["step"])
        if not grid.is_file():  # a check between grids (--health-every): judged without the signal
            continue
        fakes = cut_grid(grid, config.image_size, config.channels, grid_count(config))
        check["evidence"]["signals"]["structure_gap"] = reference.signals(fakes)["structure_gap"]
    return {**baseline, "structure_gap": untrained_baseline(config, reference)["structure_gap"]}


def troubles_of(verdicts: list[tuple[int, str]]) -> tuple[str, int | None]:
    """The troubles named, in order of first appearance, and the step of the first."""
    names = list(dict.fromkeys(v for _, v in verdicts if v != "healthy"))
    return ", ".join(names) or "healthy", next((s for s, v in verdicts if v != "healthy"), None)


def run_row(run: Path, classifier) -> dict:
    config = json.loads((run / "config.json").read_text())
    records = [json.loads(line) for line in (run / "health.jsonl").read_text().splitlines()]
    verdicts, first = troubles_of(judged_again(run, records, config["loss"]))
    live, _ = troubles_of([(r["step"], r["verdict"]) for r in records if "event" not in r])
    doctor = subprocess.run([sys.executable, str(ROOT / "doctor.py"), str(run)], capture_output=True, text=True)
    row = {"run": run.name, "seed": config["seed"], "steps": config["steps"], "verdicts": verdicts, "live": live,
           "first_trouble": first, "doctor_exit": doctor.returncode}
    if config["channels"] == 1:
        row["classes"], row["confident"] = digit_classes(run, classifier)
    else:
        grids = list_grids(run / "images", fixed=True)
        row["grid"] = str(grids[-1][1]) if grids else ""
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    from gan.runtime import set_up_tensorflow

    set_up_tensorflow()
    classifier = digit_classifier()
    rows = [run_row(run, classifier) for run in args.runs if (run / "health.jsonl").is_file()]
    if not args.markdown:
        for row in rows:
            print(json.dumps(row))
        return
    print("| run | seed | steps | verdicts | first trouble at | written live | doctor.py exit | external check |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        check = (f"{row['classes']} of 10 classes ({row['confident']:.0%} confident)" if "classes" in row
                 else f"grid {Path(row['grid']).name}")
        print(f"| {row['run']} | {row['seed']} | {row['steps']} | {row['verdicts']} | {row['first_trouble'] or ''} | "
              f"{row['live']} | {row['doctor_exit']} | {check} |")


if __name__ == "__main__":
    main()
