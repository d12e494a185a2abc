"""The house's contract: imports between the project's modules (module- and function-level
alike) point down the layers and form no circle.

Layers, bottom to top (a module may import its own layer's and those below):

    base helpers (errors, paths, registry, metrics, noise, tiling)
    <- io <- prior <- samplers <- tasks <- api <- evaluate / train / convert / report <- cli

Read from the source with ``ast`` (no import is executed), so the check needs nothing but
the files; ``restore/__init__.py``, the package's lazy facade over all of it, is the one
module outside the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    ["restore.errors", "restore.paths", "restore.registry", "restore.metrics", "restore.noise", "restore.tiling"],
    ["restore.io"],
    ["restore.prior"],
    ["restore.samplers"],
    ["restore.tasks"],
    ["restore.api"],
    ["restore.evaluate", "restore.train", "restore.convert", "restore.report"],
    ["restore.cli", "restore.ui", "restore.__main__", "restore.pretrained"],
]


def _modules() -> dict[str, Path]:
    mods = {}
    for folder, pkg in (("restore", "restore"), ("cli", "restore.cli"), ("pretrained", "restore.pretrained")):
        for p in (ROOT / folder).rglob("*.py"):
            parts = [x for x in p.relative_to(ROOT / folder).with_suffix("").parts if x != "__init__"]
            mods[".".join([pkg, *parts])] = p
    return mods


def _edges(mods: dict[str, Path]) -> dict[str, set[str]]:
    def owner(name: str) -> str | None:  # the project module a dotted name lives in
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for t in targets:
                o = owner(t)
                if o and o != m and o != "restore":
                    edges.setdefault(m, set()).add(o)
    return edges


def _layer(m: str) -> int | None:
    found = None
    for i, names in enumerate(LAYERS):
        if any(m == n or m.startswith(n + ".") for n in names):
            found = i
    return found


def test_every_module_has_a_layer():
    assert [m for m in _modules() if m != "restore" and _layer(m) is None] == []


def test_imports_point_down_the_layers():
    up = [f"{a} -> {b}" for a, bs in _edges(_modules()).items() if a != "restore" for b in bs
          if _layer(b) > _layer(a)]
    assert sorted(up) == []


def test_no_import_circles():
    edges = _edges(_modules())
    edges.pop("restore", None)
    index, low, stack, on, circles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    assert circles == []


def test_code_above_the_tasks_names_no_task():
    """"The API, the CLI commands, restore eval and restore list are generated from [a task's
    module] and name no task": a contributor's trial found the command line's rerun message
    deciding by ``job.task != "inpaint"``. No string in the code of the layers above the tasks
    (docstrings and ``__all__`` aside) is a registered task's name."""
    from restore.tasks import TASKS

    names = set(TASKS.names())
    found = []
    for m, p in _modules().items():
        if (_layer(m) or 0) <= LAYERS.index(["restore.tasks"]) or m == "restore":
            continue
        tree = ast.parse(p.read_text())
        skip = set()
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                    body[0].value, ast.Constant):
                skip.add(id(body[0].value))  # a docstring
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
                skip.update(id(n) for n in ast.walk(node.value))
        found += [f"{p.relative_to(ROOT)}:{n.lineno} {n.value!r}" for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and n.value in names and id(n) not in skip]
    assert not found, found


def test_a_tasks_summary_is_one_text():
    """A task's summary is written twice, in its registration (read by ``restore --help`` and
    ``restore list`` without importing the task) and on its class (the browser app's): a
    contributor's trial found nothing held them equal."""
    from restore.tasks import TASKS, get_task

    for n in TASKS.names():
        assert TASKS.get(n).summary == get_task(n).summary, n
