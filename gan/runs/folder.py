"""Where a run's files go, and how they are named and written.

outputs/<run>/
    config.json          every setting, to repeat the run
    training_log.txt     one line per step, the recipe's format
    fixed_noise.npy      the noise behind every NNNNfixed_image.png
    images/NNNN_image.png, images/NNNNfixed_image.png
    models/generator_NNNN.keras, models/discriminator_NNNN.keras, models/state_NNNN.json
                         a checkpoint: both networks with their optimizer states, and
                         the step and random-number state; the last --keep are kept
    tensorboard/         event files

NNNN is always the number of training steps the pictured or saved networks have had,
zero-padded to the width of the run's last step so that names sort in step order; a run
resumed with fewer steps than it began with keeps the wider names it already has.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gan.errors import UserError

if TYPE_CHECKING:
    import keras

OUTPUTS_ROOT = Path("outputs")


class RunDir:
    """The paths of one run directory."""

    def __init__(self, root: Path, total_steps: int):
        self.root = Path(root)
        self.models = self.root / "models"
        saved = [len(p.stem.rsplit("_", 1)[1]) for p in _saves_by_step(self.models, "state", ".json").values()]
        self.width = max([len(str(total_steps)), *saved])
        self.config = self.root / "config.json"
        self.log = self.root / "training_log.txt"
        self.fixed_noise = self.root / "fixed_noise.npy"
        self.images = self.root / "images"
        self.tensorboard = self.root / "tensorboard"
        self.health = self.root / "health.jsonl"

    def make_folders(self) -> None:
        for folder in (self.images, self.models, self.tensorboard):
            folder.mkdir(parents=True, exist_ok=True)

    def step_label(self, step: int) -> str:
        return f"{step:0{self.width}d}"

    def sample_grid(self, step: int) -> Path:
        return self.images / f"{self.step_label(step)}{SAMPLE_SUFFIX}"

    def fixed_grid(self, step: int) -> Path:
        return self.images / f"{self.step_label(step)}{FIXED_SUFFIX}"

    def model_file(self, name: str, step: int) -> Path:
        return self.models / f"{name}_{self.step_label(step)}.keras"

    def state_file(self, step: int) -> Path:
        return self.models / f"state_{self.step_label(step)}.json"

    @property
    def best_generator(self) -> Path:
        return self.models / "best_generator.keras"


SAMPLE_SUFFIX = "_image.png"  # the recipe's names: 0100_image.png, 0500fixed_image.png
FIXED_SUFFIX = "fixed_image.png"


def list_grids(images_folder: Path, fixed: bool = False) -> list[tuple[int, Path]]:
    """(step, path) of each sample (or fixed-noise) grid, in numeric step order."""
    pattern = re.compile(r"(\d+)" + re.escape(FIXED_SUFFIX if fixed else SAMPLE_SUFFIX))
    found = [(int(m.group(1)), p) for p in Path(images_folder).iterdir() if (m := pattern.fullmatch(p.name))]
    return sorted(found)


def is_run(folder: Path) -> bool:
    return (folder / "config.json").is_file() or (folder / "images").is_dir()


def find_run(path: str | Path) -> Path:
    """A run folder as given, or the newest run (by last change) inside a folder of runs."""
    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"no such run folder: {folder}")
    if is_run(folder):
        return folder
    runs = [child for child in folder.iterdir() if child.is_dir() and is_run(child)]
    if not runs:
        raise UserError(f"{folder} is neither a run folder nor a folder of runs")
    return max(runs, key=lambda run: max(p.stat().st_mtime for p in (run, *run.iterdir())))


def newest_generator(run: Path) -> Path:
    """The generator to draw with: the weight average where the run keeps one."""
    try:
        return newest_model(run, "ema_generator")
    except UserError:
        return newest_model(run, "generator")


def generator_source(source: Path) -> Path:
    """The generator file a command should load: `source` itself if it is a file, else the
    newest generator of the run (or of the newest run in a folder of runs)."""
    source = Path(source)
    if source.is_file():
        return source
    if source.suffix == ".keras":
        raise UserError(f"no such model file: {source}")
    return newest_generator(find_run(source))


def run_of_model(model_file: Path) -> Path | None:
    """The run folder a saved model belongs to (RUN/models/NAME.keras); None for a file
    kept anywhere else."""
    parent = Path(model_file).parent
    return parent.parent if parent.name == "models" else None


def model_step(model_file: Path) -> int | None:
    """The training step in a save's name (generator_0500.keras -> 500); None for names
    without one (best_generator.keras, a file renamed by hand)."""
    suffix = Path(model_file).stem.rsplit("_", 1)[-1]
    return int(suffix) if suffix.isdigit() else None


def newest_model(run: Path, name: str) -> Path:
    """The `name` (generator or discriminator) save with the highest step in a run."""
    models = Path(run) / "models"
    saves = _saves_by_step(models, name, ".keras") if models.is_dir() else {}
    if not saves:
        raise UserError(f"no {name}_NNNN.keras saves in {models}")
    return saves[max(saves)]


def check_new_folder(folder: str | Path, flag: str) -> None:
    """Raise UserError unless `folder` (given as `flag`) is absent or empty: a run or an
    export never mixes its files with another's, nor replaces one."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {folder} is a file; choose a new folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise UserError(f"{flag} {folder} already holds files (another run?); choose a new folder")


def claim_run_folder(out: str | None, data: str) -> Path:
    """Create and return an empty run folder; never reuse one that holds anything.

    Without `out`, the folder is outputs/<data folder name>-<n> with the next free n.
    """
    if out is not None:
        check_new_folder(out, "--out")
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(data).resolve().name) or "run"
    OUTPUTS_ROOT.mkdir(parents=True, exist_ok=True)
    taken = [
        int(match.group(1))
        for match in (re.fullmatch(re.escape(name) + r"-(\d+)", p.name) for p in OUTPUTS_ROOT.iterdir())
        if match
    ]
    number = max(taken, default=0) + 1
    while True:
        folder = OUTPUTS_ROOT / f"{name}-{number}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            number += 1


@dataclass(frozen=True)
class Checkpoint:
    step: int
    generator: Path
    discriminator: Path
    state: Path
    ema_generator: Path | None = None  # only in runs with --ema

    def read_state(self) -> dict:
        return json.loads(self.state.read_text())


def _saves_by_step(models: Path, name: str, suffix: str) -> dict[int, Path]:
    pattern = re.compile(re.escape(name) + r"_(\d+)" + re.escape(suffix))
    return {int(m.group(1)): p for p in models.glob(f"{name}_*{suffix}") if (m := pattern.fullmatch(p.name))}


def list_checkpoints(run: RunDir) -> list[Checkpoint]:
    """The complete checkpoints of a run, oldest first. A state file is written last,
    so a step whose state file exists has both networks saved in full."""
    if not run.models.is_dir():
        return []
    generators = _saves_by_step(run.models, "generator", ".keras")
    discriminators = _saves_by_step(run.models, "discriminator", ".keras")
    averages = _saves_by_step(run.models, "ema_generator", ".keras")
    return [
        Checkpoint(step, generators[step], discriminators[step], state, averages.get(step))
        for step, state in sorted(_saves_by_step(run.models, "state", ".json").items())
        if step in generators and step in discriminators
    ]


def save_checkpoint(run: RunDir, step: int, networks: dict[str, "keras.Model"], state: dict) -> None:
    """Write a checkpoint so that a kill at any moment leaves the previous ones intact.

    Every file is written in models/.partial and then renamed into place (a rename is
    atomic), the state file last: until it lands, the step is not a checkpoint.
    `networks` maps each save's name (generator, discriminator, ema_generator) to its network.
    """
    staging = _staging(run.models)
    files = []
    for name, network in networks.items():
        files.append(run.model_file(name, step))
        network.save(staging / files[-1].name)
    files.append(run.state_file(step))
    (staging / files[-1].name).write_text(json.dumps(state, indent=2) + "\n")
    for target in files:
        (staging / target.name).replace(target)


def save_model(model: "keras.Model", path: Path) -> None:
    """One model, saved in models/.partial and renamed into place."""
    staged = _staging(path.parent) / path.name
    model.save(staged)
    staged.replace(path)


def _staging(models: Path) -> Path:
    # Keras insists on a .keras suffix, so partial saves go to a folder, not a suffix.
    staging = models / ".partial"
    staging.mkdir(exist_ok=True)
    return staging


def delete_checkpoint(checkpoint: Checkpoint) -> None:
    """Remove a checkpoint's files, the state file first, so it is never half there."""
    for path in (checkpoint.state, checkpoint.generator, checkpoint.discriminator, checkpoint.ema_generator):
        if path is not None:
            path.unlink(missing_ok=True)


def prune_checkpoints(run: RunDir, keep: int, spare: int | None = None) -> None:
    """Delete all but the newest `keep` checkpoints (0 keeps all) and the one of step
    `spare` (the newest healthy one, which a rollback may need)."""
    if keep == 0:
        return
    for old in list_checkpoints(run)[:-keep]:
        if old.step != spare:
            delete_checkpoint(old)
