"""Layers run one way: no module imports from a layer above its own (DESIGN.md's data flow).

Lowest first: the foundation (errors, checks, hub, audio, layers, threads) -> codecs -> text -> conditions ->
tasks -> lm -> decoders -> pipeline, diffusion, tts, separation, continuation -> data -> training -> eval -> cli. Data and training feed the models, so they
sit above them; eval and the command line are on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tokgen"
LAYERS: list[tuple[str, ...]] = [
    ("errors", "checks", "hub", "audio", "layers", "threads"),
    ("codecs",),
    ("text",),
    ("conditions",),
    ("tasks",),
    ("lm",),
    ("decoders",),
    # the generators: load/generate (each model + its loop; net_model: what the one-network ones share)
    ("pipeline", "diffusion", "tts", "separation", "continuation", "net_model"),
    ("data",),
    ("training",),
    ("eval",),
    ("cli",),
]


def layer_of(module: str) -> int | None:
    """Layer index of a dotted ``tokgen.x...`` module name (None: outside the layers)."""
    parts = module.split(".")
    if parts[0] != "tokgen" or len(parts) < 2:
        return None
    return next((i for i, names in enumerate(LAYERS) if parts[1] in names), None)


def imported(tree: ast.AST) -> set[str]:
    """Every absolute module (and ``module.name``) an AST imports, lazy imports included."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        dotted = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found.append((dotted.removesuffix(".__init__"), path))
    return found


def test_every_package_module_has_a_layer():
    loose = [m for m, _ in modules() if m != "tokgen" and layer_of(m) is None]
    assert loose == [], f"add these to LAYERS in {__file__}: {loose}"


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_no_import_from_a_layer_above(module, path):
    own = layer_of(module)
    if own is None:
        return  # tokgen/__init__.py: the light public entry point
    upward = sorted(
        name for name in imported(ast.parse(path.read_text())) if (layer_of(name) or 0) > own
    )
    assert upward == [], f"{module} (layer {own}) imports from above: {upward}"


def test_the_check_catches_an_upward_import():
    tree = ast.parse("from tokgen.cli import main\nimport tokgen.audio")
    assert {layer_of(n) for n in imported(tree)} == {len(LAYERS) - 1, 0}
