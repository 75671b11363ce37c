"""The exporters and runtimes that are optional for users, and the one line that says
how to install a missing one (requirements-export.txt pins them)."""

from __future__ import annotations

import importlib.util

from gan.errors import UserError

REQUIREMENTS = "requirements-export.txt"
# import name -> the pinned pip requirement that provides it
PINS = {"tf2onnx": "tf2onnx==1.17.0", "onnx": "onnx==1.23.2", "onnxruntime": "onnxruntime==1.32.0", "ai_edge_litert": "ai-edge-litert==2.3.0"}


def missing(modules: tuple[str, ...]) -> list[str]:
    """The modules of `modules` that cannot be imported here (found without importing them)."""
    return [module for module in modules if importlib.util.find_spec(module) is None]


def require(modules: tuple[str, ...], needed_for: str) -> None:
    """Raise UserError naming the missing packages and the pip command, before any work
    starts: an export that fails at its last format would waste the others' time."""
    absent = missing(modules)
    if absent:
        pins = " ".join(PINS.get(module, module) for module in absent)
        raise UserError(f"{needed_for} needs {', '.join(absent)}: pip install -r {REQUIREMENTS} (or pip install {pins})")
