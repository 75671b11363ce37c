"""The package's shape: layers that import only downwards, no import cycle, short
functions, and a training loop that reads in one sitting."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gan"
# Bottom to top, as gan/__init__.py lists them: a module may import its own layer and those before it.
LAYERS = ("errors", "runtime", "settings", "runs", "data", "pictures", "evaluation", "export", "training", "web", "cli")
RANK = {"errors": 0, "runtime": 0, **{layer: rank for rank, layer in enumerate(LAYERS)}}
MAX_FUNCTION_LINES = 60
MAX_LOOP_LINES = 40


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(path): ast.parse(path.read_text(), str(path)) for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, tree: ast.Module) -> set[str]:
    """Every gan module `name` imports, at any depth (function-local and TYPE_CHECKING ones too)."""
    found = set()
    package = name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "gan")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            if module.split(".")[0] != "gan":
                continue
            # `from gan.training import step` imports the module gan.training.step.
            for alias in node.names:
                found.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module)
    return found - {name}


MODULES = _modules()


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "gan"


def test_every_module_belongs_to_a_known_layer():
    unknown = sorted({_layer(module) for module in MODULES} - set(RANK) - {"gan"})
    assert not unknown, f"add these to LAYERS (and to gan/__init__.py): {unknown}"


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{module} -> {imported}"
        for module, tree in MODULES.items()
        if module != "gan"
        for imported in _imports(module, tree)
        if imported != "gan" and RANK[_layer(imported)] > RANK[_layer(module)]
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycle():
    graph = {module: {m for m in _imports(module, tree) if m in MODULES} for module, tree in MODULES.items()}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                return [*path, module, imported]
            if imported not in state and (cycle := visit(imported, [*path, module])):
                return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [])
            assert cycle is None, "import cycle: " + " -> ".join(cycle[cycle.index(cycle[-1]):])


def test_the_import_walker_sees_local_and_relative_imports():
    tree = ast.parse("def f():\n    from gan.training.step import DCGAN\nfrom . import text_log\n")
    assert _imports("gan.runs.folder", tree) == {"gan.training.step", "gan.runs.text_log"}


def _functions():
    for module, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield module, node


def test_no_function_is_longer_than_the_limit():
    long = [
        f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for module, node in _functions()
        if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_the_training_loop_reads_in_one_sitting():
    (loop,) = [node for module, node in _functions() if module == "gan.training.loop" and node.name == "run_loop"]
    lines = loop.end_lineno - loop.lineno + 1
    assert lines <= MAX_LOOP_LINES, f"the loop is {lines} lines"
    assert not any(isinstance(node, ast.Nonlocal) for node in ast.walk(MODULES["gan.training.loop"]))


@pytest.mark.parametrize("root", ["gan", "docs", "bench", "README.md", "*.py", "requirements*.txt"])
def test_nothing_users_get_points_at_the_shared_folder(root):
    top = PACKAGE.parent
    paths = [top / root] if (top / root).is_file() else [*top.glob(root)] if "*" in root else [*(top / root).rglob("*")]
    marker = "../" + "shared"
    pointing = [str(p.relative_to(top)) for p in paths if p.is_file() and p.suffix in (".py", ".md", ".txt", ".html", ".js")
                and marker in p.read_text(errors="replace")]
    assert not pointing, f"these point at a folder users do not have: {pointing}"
