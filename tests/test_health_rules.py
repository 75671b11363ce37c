"""The doctor's signals and rules on made-up images and signal sequences."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gan.evaluation import health_rules
from gan.evaluation.diagnosis import final_verdict, report, surviving_checks, timeline
from gan.evaluation.health_rules import CONFIRM, WARMUP_STEPS, HealthState, judge, realism
from gan.evaluation.health_signals import RealReference, mean_pairwise_distance, shrink


def smooth_images(count: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Blurry blobs in [-1, 1]: images with a falling spectrum, like photographs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    centres = rng.uniform(0.2, 0.8, (count, 2))
    blobs = np.exp(-((x - centres[:, :1, None]) ** 2 + (y - centres[:, 1:, None]) ** 2) / 0.02)
    return (blobs * 2 - 1)[..., None].astype(np.float32)


def test_shrink_averages_down_to_the_signal_size():
    images = np.arange(2 * 64 * 64 * 3, dtype=np.float32).reshape(2, 64, 64, 3)
    small = shrink(images)
    assert small.shape == (2, 32, 32, 3)
    assert small[0, 0, 0, 0] == pytest.approx(images[0, :2, :2, 0].mean())


def test_signals_of_the_data_itself_are_ideal_and_of_copies_of_one_image_collapsed():
    reals = smooth_images(64)
    reference = RealReference(reals)
    same = reference.signals(reals)
    assert same["diversity"] == pytest.approx(1.0)
    assert same["spectrum_gap"] == pytest.approx(0.0, abs=1e-9)
    assert same["pixel_gap"] == pytest.approx(0.0, abs=1e-9)
    copies = reference.signals(np.repeat(reals[:1], 64, axis=0))
    assert copies["diversity"] == pytest.approx(0.0, abs=1e-6)


def test_noise_sits_far_from_smooth_data_and_other_smooth_images_close():
    reference = RealReference(smooth_images(64, seed=0))
    noise = np.random.default_rng(1).uniform(-1, 1, (64, 32, 32, 1)).astype(np.float32)
    other = reference.signals(smooth_images(64, seed=2))
    far = reference.signals(noise)
    assert far["spectrum_gap"] > 5 * other["spectrum_gap"]
    assert far["pixel_gap"] > 5 * other["pixel_gap"]


def test_the_data_turned_on_its_side_matches_everything_but_the_whole_spectrum():
    """Stripes across the image against the same stripes turned upright: pixel values,
    variety and the spectrum averaged over directions are the same, only where the power
    sits differs. The whole spectrum sees what a lattice-drawing generator gets wrong."""
    rng = np.random.default_rng(0)
    rows = np.sin(np.arange(32)[None, :, None] * rng.uniform(0.5, 1.5, (64, 1, 1)) + rng.uniform(0, 6, (64, 1, 1)))
    across = np.broadcast_to(rows, (64, 32, 32))[..., None].astype(np.float32) * np.float32(0.9)
    upright = across.transpose(0, 2, 1, 3).copy()
    reference = RealReference(across)
    turned = reference.signals(upright)
    assert turned["spectrum_gap"] == pytest.approx(0.0, abs=1e-6)
    assert turned["pixel_gap"] == pytest.approx(0.0, abs=1e-6)
    assert turned["diversity"] == pytest.approx(1.0)
    assert turned["structure_gap"] > 0.5 and reference.signals(across)["structure_gap"] == pytest.approx(0.0, abs=1e-9)


def test_mean_pairwise_distance_of_two_images():
    images = np.zeros((2, 2, 2, 1), np.float32)
    images[1] = 1.0
    assert mean_pairwise_distance(images) == pytest.approx(1.0)
    assert mean_pairwise_distance(images[:1]) == 0.0


BASELINE = {"diversity": 0.7, "spectrum_gap": 1.0, "pixel_gap": 0.4, "structure_gap": 0.8}


def signals(level: float, diversity: float = 0.9, d_real: float = 0.7, d_fake: float = 0.3, loss: float = 1.0,
            structure: float | None = None) -> dict:
    """Signals whose realism is `level` against BASELINE, and whose structure is `level`
    too unless given."""
    structure = level if structure is None else structure
    return {"diversity": diversity, "spectrum_gap": level * BASELINE["spectrum_gap"], "pixel_gap": level * BASELINE["pixel_gap"],
            "structure_gap": structure * BASELINE["structure_gap"],
            "d_real_loss": loss, "d_fake_loss": loss, "g_loss": loss, "d_real": d_real, "d_fake": d_fake}


def run_checks(sequence: list[dict], every: int = 100) -> tuple[list[str], HealthState]:
    state = HealthState(baseline=dict(BASELINE))
    verdicts = [judge(s, state, i * every, scores_are_probabilities=True).verdict for i, s in enumerate(sequence)]
    return verdicts, state


def test_realism_is_one_for_the_untrained_generator_and_zero_for_the_data():
    assert realism(signals(1.0), BASELINE) == pytest.approx(1.0)
    assert realism(signals(0.0), BASELINE) == pytest.approx(0.0)


def test_a_learning_run_is_healthy_throughout():
    levels = [1.0, 0.6, 0.4, 0.3, 0.3, 0.25, 0.3, 0.28, 0.26, 0.27]
    verdicts, state = run_checks([signals(level) for level in levels])
    assert verdicts == ["healthy"] * len(levels)
    assert state.last_healthy_step == 900


def test_a_generator_that_never_leaves_its_untrained_output_is_stuck_after_the_warmup():
    verdicts, _ = run_checks([signals(1.0, d_real=0.9, d_fake=0.1)] * 8)
    first_possible = WARMUP_STEPS // 100 + CONFIRM - 1
    assert verdicts[:first_possible] == ["healthy"] * first_possible
    assert set(verdicts[first_possible:]) == {"g_stuck_noise"}


def test_one_bad_check_raises_no_alarm():
    levels = [1.0, 0.5, 0.3, 0.3, 0.9, 0.3, 0.3]
    verdicts, _ = run_checks([signals(level) for level in levels])
    assert verdicts == ["healthy"] * len(levels)


@pytest.mark.parametrize("d_real, d_fake, trouble", [(0.95, 0.05, "d_wins"), (0.6, 0.4, "quality_regressing")])
def test_samples_getting_worse_after_improving_is_named_by_who_wins(d_real, d_fake, trouble):
    sequence = [signals(level) for level in (1.0, 0.5, 0.3, 0.25)]
    sequence += [signals(0.8, d_real=d_real, d_fake=d_fake)] * 3
    verdicts, _ = run_checks(sequence)
    assert verdicts[:5] == ["healthy"] * 5
    assert verdicts[5:] == [trouble, trouble]


def test_samples_all_alike_are_mode_collapse():
    sequence = [signals(level) for level in (1.0, 0.5, 0.3, 0.3)] + [signals(0.3, diversity=0.05)] * 2
    verdicts, _ = run_checks(sequence)
    assert verdicts[-1] == "mode_collapse"


def test_exploding_losses_are_diverging_and_a_trouble_line_names_its_remedy():
    sequence = [signals(level) for level in (1.0, 0.5, 0.3)] + [signals(0.3, loss=500.0)] * 2
    state = HealthState(baseline=dict(BASELINE))
    findings = [judge(s, state, i * 100, True) for i, s in enumerate(sequence)]
    assert findings[-1].verdict == "diverging"
    record = findings[-1].record(400)
    assert record["remedy"] == health_rules.REMEDIES["diverging"]
    assert "healthy" not in json.dumps(record)
    assert "remedy" not in findings[0].record(0)


def test_raw_scores_go_through_a_sigmoid_for_the_margin():
    assert health_rules.discriminator_margin(0.9, 0.1, True) == pytest.approx(0.8)
    assert health_rules.discriminator_margin(3.0, -3.0, False) == pytest.approx(2 / (1 + math.exp(-3)) - 1)


def test_the_state_survives_json_as_a_checkpoint_keeps_it():
    _, state = run_checks([signals(level) for level in (1.0, 0.5, 0.4)])
    again = HealthState.from_json(json.loads(json.dumps(state.to_json())))
    assert again == state
    fresh = HealthState(baseline=dict(BASELINE))
    assert HealthState.from_json(json.loads(json.dumps(fresh.to_json()))) == fresh


def test_timeline_groups_checks_and_a_rollback_drops_the_abandoned_checks():
    records = [{"step": s, "verdict": "healthy", "evidence": {}} for s in (0, 100, 200)]
    records += [{"step": s, "verdict": "d_wins", "evidence": {}} for s in (300, 400)]
    records.append({"step": 400, "event": "rollback", "verdict": "d_wins", "to_step": 200})
    records += [{"step": s, "verdict": "healthy", "evidence": {}} for s in (200, 300, 400)]
    stretches = [(s.first_step, s.last_step, s.verdict) for s in timeline(records)]
    assert stretches == [(0, 200, "healthy"), (300, 400, "d_wins"), (400, 200, "rollback"), (200, 400, "healthy")]
    assert [r["step"] for r in surviving_checks(records)] == [0, 100, 200, 300, 400]
    assert final_verdict(records) == "healthy"
    assert any("Rolled back 1 time" in line for line in report(records))


@pytest.mark.parametrize("margin, network", [(0.8, "lr_g"), (-0.1, "lr_d")])
def test_a_stuck_run_rolls_back_with_the_idle_network_sped_up(margin, network):
    changes = health_rules.rollback_changes("g_stuck_noise", {"d_margin": {"value": margin}})
    assert changes == {network: health_rules.STUCK_SPEED_UP}
    assert health_rules.rollback_changes("d_wins", {}) == {"lr_d": 0.5}
    assert health_rules.rollback_changes("g_stalled", {}) == {"lr_g": 0.1, "lr_d": 0.1}


def test_a_slow_generator_that_keeps_improving_is_not_stuck():
    levels = [1.0, 0.99, 0.97, 0.92, 0.87, 0.82, 0.78, 0.74, 0.7]
    verdicts, _ = run_checks([signals(level, d_real=0.9, d_fake=0.1) for level in levels])
    assert verdicts == ["healthy"] * len(levels)


def test_an_fid_well_above_its_best_is_quality_regressing():
    sequence = [{**signals(level), "fid": fid} for level, fid in ((1.0, 300.0), (0.4, 80.0), (0.3, 50.0))]
    sequence += [{**signals(0.3), "fid": 70.0}] * 2
    verdicts, state = run_checks(sequence)
    assert verdicts == ["healthy"] * 4 + ["quality_regressing"]
    assert state.best_fid == 50.0


def test_samples_that_stop_improving_far_from_the_data_have_stalled_even_when_a_reading_is_lucky():
    """Realistic pixel values and radial spectrum, a whole-spectrum structure stuck near
    0.7 with the swings one batch of samples gives: stalled, and it stays so through a
    lucky low reading, because the rule judges two checks' average."""
    structures = [1.0, 1.0, 1.0, 0.99, 0.81, 0.70, 0.69, 0.78, 0.58, 0.75]  # the wgan-clip run of docs/doctor.md
    verdicts, state = run_checks([signals(0.25 if i else 1.0, structure=value) for i, value in enumerate(structures)])
    assert verdicts[:8] == ["healthy"] * 8
    assert verdicts[8:] == ["g_stalled"] * 2
    assert state.best_structure == pytest.approx(0.665)  # (0.58 + 0.75) / 2


def test_a_slow_run_whose_structure_keeps_falling_has_not_stalled():
    structures = [1.0, 0.87, 0.62, 0.52, 0.42, 0.35, 0.31, 0.25, 0.22, 0.18]
    verdicts, _ = run_checks([signals(min(1.0, 1.2 * value), structure=value) for value in structures])
    assert verdicts == ["healthy"] * len(structures)


def test_a_64x64_faces_run_slowly_improving_just_below_half_has_not_stalled():
    """Realism and structure of the first 1,200 steps of a healthy 64x64 anime-faces run
    (--preset recipe-tuned --width 1 --width-d 0 --no-mbstd --no-mirror, seed 0): its
    structure, averaged over two checks, levels at 0.46 for three checks before it falls
    again. A stall threshold of 0.45 called it g_stalled at steps 700 and 800."""
    levels = [1.0, 0.36, 0.25, 0.15, 0.23, 0.41, 0.21, 0.25, 0.12, 0.20, 0.15, 0.09]
    structures = [1.0, 0.91, 0.86, 0.72, 0.39, 0.55, 0.40, 0.52, 0.40, 0.48, 0.45, 0.38]
    verdicts, _ = run_checks([signals(level, structure=value) for level, value in zip(levels, structures, strict=True)])
    assert verdicts == ["healthy"] * len(levels)


def test_signals_from_before_the_structure_signal_are_judged_without_it():
    old = {key: value for key, value in signals(0.25, structure=0.9).items() if key != "structure_gap"}
    verdicts, state = run_checks([signals(1.0)] + [old] * 6)
    assert verdicts == ["healthy"] * 7 and math.isinf(state.best_structure) is False


def test_a_trouble_seen_once_at_the_newest_check_is_reported_as_one_to_watch():
    state = HealthState(baseline=dict(BASELINE))
    sequence = [signals(level) for level in (1.0, 0.5, 0.2, 0.2)] + [signals(0.6, d_real=0.999, d_fake=0.001)]
    records = [judge(s, state, i * 100, scores_are_probabilities=True).record(i * 100) for i, s in enumerate(sequence)]
    assert records[-1]["verdict"] == "healthy"
    assert records[-1]["evidence"]["seen_in_a_row"] == {"trouble": "d_wins", "value": 1, "declared_at": CONFIRM}
    lines = report(records)
    assert "Final verdict: healthy (newest check: step 400)." in lines
    assert lines[-1].startswith("Watch: the newest check saw signs of d_wins") and "--lr-d" in lines[-1]
    assert not any(line.startswith("Watch") for line in report(records[:-1]))
