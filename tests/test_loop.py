"""The loop's timing contract: the host reads a step's figures while the next step runs,
except where the networks' state must be that step's (a checkpoint, the end)."""

import dataclasses

from conftest import tiny_config

from gan.runs.text_log import read_log
from gan.training import distribute
from gan.training.loop import run_loop
from gan.training.session import open_session

STEPS, SAVE_EVERY = 12, 5


class Watched:
    """A step's scalar that records when the host turns it into a Python float."""

    def __init__(self, value, step: int, events: list):
        self.value, self.step, self.events = value, step, events

    def __float__(self) -> float:
        self.events.append(("read", self.step))
        return float(self.value)


def _watched_session(data_folder, tmp_path, events: list):
    config = tiny_config(data_folder, tmp_path / "run", steps=STEPS, save_every=SAVE_EVERY, sample_every=4, seed=0)
    session = open_session(config, None, distribute.Distribution())
    step_function = session.train_step

    def watched_step(batch) -> dict:
        step = sum(kind == "dispatch" for kind, _ in events)
        figures = step_function(batch)
        events.append(("dispatch", step))
        return {key: value if key == "samples" else Watched(value, step, events) for key, value in figures.items()}

    return dataclasses.replace(session, train_step=watched_step)


def test_each_step_is_read_after_the_next_is_dispatched_but_checkpoints_wait_for_it(data_folder, tmp_path):
    events = []
    run = run_loop(_watched_session(data_folder, tmp_path, events), show_progress=False)
    order = {event: index for index, event in enumerate(events) if event[0] == "dispatch"}
    first_read = {step: events.index(("read", step)) for step in range(STEPS)}
    for step in range(STEPS - 1):
        read_before_next = first_read[step] < order[("dispatch", step + 1)]
        checkpointed = (step + 1) % SAVE_EVERY == 0
        assert read_before_next == checkpointed, f"step {step}: read {'before' if read_before_next else 'after'} the next"
    assert first_read[STEPS - 1] > order[("dispatch", STEPS - 1)]
    assert list(read_log(run / "training_log.txt").steps) == list(range(STEPS))
    assert sorted(p.name for p in (run / "models").glob("generator_*.keras")) == [
        "generator_05.keras", "generator_10.keras", "generator_12.keras"
    ]
