"""The live health checks in real runs, --on-trouble stop and rollback, and doctor.py.

Trouble is forced by patching the rules' `condition` in the training process, so the
mechanism is tested apart from the thresholds (those are calibrated on real runs, in
docs/doctor.md, and unit-tested in test_health_rules.py).
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from conftest import TINY_FLAGS, needs_jax, run_script, run_train_patched

from gan.runs.folder import RunDir, list_checkpoints
from gan.runs.health_log import read_health
from gan.runs.text_log import read_log

# 60 steps, a check every 5, a checkpoint every 10: a trouble seen at 30 and 35 is declared
# at 35; the newest healthy checkpoint is then step 20.
FLAGS = [*TINY_FLAGS, "--steps", "60", "--sample-every", "5", "--save-every", "10", "--keep", "2", "--seed", "5"]


def trouble_patch(steps: tuple[int, ...], only_first_pass: bool) -> str:
    """Python run before train.py: the rules see d_wins at `steps` (on the first pass
    only: before any rollback)."""
    return f"""
import gan.evaluation.health_rules as rules
real_condition = rules.condition
def condition(signals, state, step, probabilities):
    _, evidence = real_condition(signals, state, step, probabilities)
    forced = step in {steps!r} and not ({only_first_pass!r} and state.rollbacks)
    return ("d_wins" if forced else None), evidence
rules.condition = condition
"""


def train(data_folder, out, *flags, steps=(30, 35), only_first_pass=True, env=None):
    return run_train_patched(trouble_patch(steps, only_first_pass), "--data", str(data_folder), "--out", str(out),
                             *FLAGS, *flags, env=env)


def discriminator_learning_rate(path) -> float:
    return float(keras.saving.load_model(path, safe_mode=True).optimizer.learning_rate)


def test_a_plain_run_writes_a_healthy_line_per_check_and_doctor_says_so(tiny_run):
    out, result = tiny_run
    records = read_health(out / "health.jsonl")
    assert [r["step"] for r in records] == [0, 10, 20, 24]
    assert {r["verdict"] for r in records} == {"healthy"}
    assert [r.get("closing", False) for r in records] == [False, False, False, True]
    assert "health: step 0: healthy" in result.stdout
    state = json.loads(RunDir(out, 25).state_file(25).read_text())
    assert state["health"]["records"] == 3, "the closing check's line is not counted: a resume drops it"
    doctor = run_script("doctor.py", str(out), "-o", str(out.parent / "tiny_health.png"))
    assert doctor.returncode == 0, doctor.stderr
    assert "steps 0-24: healthy" in doctor.stdout
    assert "Final verdict: healthy (newest check: step 24, the run's last)" in doctor.stdout
    assert (out.parent / "tiny_health.png").stat().st_size > 10_000


def test_on_trouble_warn_says_so_and_goes_on(data_folder, tmp_path):
    result = train(data_folder, tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert "health: step 35: d_wins" in result.stdout and "health: step 40: healthy" in result.stdout
    verdicts = {r["step"]: r["verdict"] for r in read_health(tmp_path / "run" / "health.jsonl")}
    assert verdicts[30] == "healthy" and verdicts[35] == "d_wins" and verdicts[55] == "healthy"
    doctor = run_script("doctor.py", str(tmp_path / "run"))
    assert doctor.returncode == 0 and "step 35: d_wins" in doctor.stdout


def test_the_closing_check_catches_a_trouble_after_the_last_regular_check_and_does_not_act(data_folder, tmp_path):
    out = tmp_path / "run"
    result = train(data_folder, out, "--on-trouble", "stop", steps=(55, 59))
    assert result.returncode == 0, result.stderr
    assert "health: step 59: d_wins" in result.stdout
    records = read_health(out / "health.jsonl")
    assert [(r["step"], r["verdict"]) for r in records[-2:]] == [(55, "healthy"), (59, "d_wins")]
    assert records[-1]["closing"] and "remedy" in records[-1]
    state = json.loads(list_checkpoints(RunDir(out, 60))[-1].state.read_text())["health"]
    assert (state["verdict"], state["pending"], state["pending_count"]) == ("healthy", "d_wins", 1)
    assert state["records"] == len(records) - 1
    doctor = run_script("doctor.py", str(out))
    assert doctor.returncode == 1
    assert "Final verdict: d_wins" in doctor.stdout and "step 59: d_wins" in doctor.stdout


def test_on_trouble_stop_checkpoints_and_names_the_remedy(data_folder, tmp_path):
    out = tmp_path / "run"
    result = train(data_folder, out, "--on-trouble", "stop")
    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert "health check at step 35: d_wins" in message and "--lr-d" in message and "checkpoint at step 37" in message
    assert list_checkpoints(RunDir(out, 60))[-1].step == 37
    assert read_log(out / "training_log.txt").steps.tolist() == list(range(37))
    doctor = run_script("doctor.py", str(out))
    assert doctor.returncode == 1
    assert "Final verdict: d_wins" in doctor.stdout and "Remedy: Halve the discriminator" in doctor.stdout


def test_on_trouble_rollback_restores_the_healthy_checkpoint_with_the_remedy_and_resumes_exactly(data_folder, tmp_path):
    out = tmp_path / "run"
    result = train(data_folder, out, "--on-trouble", "rollback")
    assert result.returncode == 0, result.stderr
    assert "rolled back to step 20 (rollback 1 of 3); learning rates now --lr-g 0.00015 --lr-d 0.0001" in result.stdout
    records = read_health(out / "health.jsonl")
    rollbacks = [r for r in records if r.get("event") == "rollback"]
    assert rollbacks == [{"step": 35, "event": "rollback", "verdict": "d_wins", "to_step": 20,
                          "changes": {"lr_d": [0.0002, 0.0001]}, "rollbacks": 1, "remedy": rollbacks[0]["remedy"]}]
    # Each step once in the log; the checks of 20-35 made again after the rollback.
    assert read_log(out / "training_log.txt").steps.tolist() == list(range(60))
    assert [r["step"] for r in records if "event" not in r].count(25) == 2
    assert json.loads((out / "config.json").read_text())["lr_d"] == pytest.approx(1e-4)
    newest = list_checkpoints(RunDir(out, 60))[-1]
    assert newest.step == 60 and json.loads(newest.state.read_text())["health"]["rollbacks"] == 1
    assert discriminator_learning_rate(newest.discriminator) == pytest.approx(1e-4)
    doctor = run_script("doctor.py", str(out))
    assert doctor.returncode == 0 and "Rolled back 1 time(s)" in doctor.stdout
    # Stopped at step 50, after the rollback, and resumed: it ends as the run above did.
    straight, stopped = out, tmp_path / "stopped"
    assert train(data_folder, stopped, "--on-trouble", "rollback", "--steps", "50").returncode == 0
    resumed = run_train_patched(trouble_patch((30, 35), True), "--resume", str(stopped), "--steps", "60")
    assert resumed.returncode == 0, resumed.stderr
    assert (stopped / "health.jsonl").read_text() == (straight / "health.jsonl").read_text()
    assert (stopped / "training_log.txt").read_text() == (straight / "training_log.txt").read_text()
    for name in ("generator", "discriminator"):
        a = keras.saving.load_model(RunDir(straight, 60).model_file(name, 60), safe_mode=True)
        b = keras.saving.load_model(RunDir(stopped, 60).model_file(name, 60), safe_mode=True)
        for x, y in zip(a.variables + a.optimizer.variables, b.variables + b.optimizer.variables, strict=True):
            np.testing.assert_array_equal(x.numpy(), y.numpy())


@needs_jax
def test_a_rollback_in_the_jax_engine_goes_on_with_the_new_learning_rate(data_folder, tmp_path):
    out = tmp_path / "run"
    result = train(data_folder, out, "--on-trouble", "rollback", env={"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stderr
    assert "rolled back to step 20" in result.stdout
    assert read_log(out / "training_log.txt").steps.tolist() == list(range(60))
    newest = list_checkpoints(RunDir(out, 60))[-1]
    assert discriminator_learning_rate(newest.discriminator) == pytest.approx(1e-4)


def test_rollbacks_are_bounded(data_folder, tmp_path):
    out = tmp_path / "run"
    result = train(data_folder, out, "--on-trouble", "rollback", only_first_pass=False)
    assert result.returncode == 1
    assert "rolled back 3 times already" in result.stderr
    records = read_health(out / "health.jsonl")
    assert [r["to_step"] for r in records if r.get("event") == "rollback"] == [20, 20, 20]
    assert json.loads((out / "config.json").read_text())["lr_d"] == pytest.approx(2e-4 / 8)


def test_doctor_diagnoses_a_run_without_health_checks_from_its_grids(tiny_run, tmp_path):
    out, _ = tiny_run
    copy = tmp_path / "old"
    copy.mkdir()
    for name in ("config.json", "training_log.txt", "images"):
        source = out / name
        if source.is_dir():
            (copy / name).mkdir()
            for grid in source.iterdir():
                (copy / name / grid.name).write_bytes(grid.read_bytes())
        else:
            (copy / name).write_bytes(source.read_bytes())
    result = run_script("doctor.py", str(copy))
    assert result.returncode in (0, 1), result.stderr
    assert "diagnosing from training_log.txt and the sample grids instead" in result.stdout
    assert "steps 0-20" in result.stdout or "step 0" in result.stdout
    assert (copy / "health.png").is_file()


@pytest.mark.parametrize("make, message", [
    (lambda root: root / "missing", "no such run folder"),
    (lambda root: root, "is not a run folder (no training_log.txt)"),
    (lambda root: (root / "training_log.txt").write_text("") or root, "neither health.jsonl nor config.json"),
    (lambda root: ((root / "training_log.txt").write_text(""), (root / "health.jsonl").write_text("{not json\n"))
     and root, "line 1 is not JSON"),
    (lambda root: ((root / "training_log.txt").write_text(""), (root / "health.jsonl").write_text('{"step": 5}\n'))
     and root, "the record of step 5 is neither a health check with a known verdict"),
    (lambda root: ((root / "training_log.txt").write_text(""),
                   (root / "health.jsonl").write_text('{"step": 5, "verdict": "sad", "evidence": {}}\n'))
     and root, "the record of step 5 is neither"),
    (lambda root: ((root / "training_log.txt").write_text(""),
                   (root / "health.jsonl").write_text('{"step": 5, "event": "rollback", "verdict": "d_wins"}\n'))
     and root, "the record of step 5 is neither"),
])
def test_doctor_on_bad_input_exits_2_with_one_line(tmp_path, make, message):
    result = run_script("doctor.py", str(make(tmp_path)))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_the_calibration_benchmark_judges_a_recorded_run_again_as_it_was_judged(tiny_run):
    from bench.doctor_calibration import judged_again

    out, _ = tiny_run
    records = read_health(out / "health.jsonl")
    assert judged_again(out, records, "bce") == [(r["step"], r["verdict"]) for r in records] == [
        (0, "healthy"), (10, "healthy"), (20, "healthy"), (24, "healthy")]
