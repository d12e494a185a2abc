"""The examples in the public docstrings run and say what they show."""

import doctest
import importlib

import numpy as np
import pytest

import restore
import restore.api
import restore.metrics
import restore.prior.weights

# each task module holds its API helper (restore.denoise, ...) and its examples
TASK_MODULES = [importlib.import_module(restore.TASKS.get(n).ref.partition(":")[0]) for n in restore.TASKS.names()]


@pytest.mark.parametrize("mod", [restore, restore.api, restore.metrics, restore.prior.weights, *TASK_MODULES],
                         ids=lambda m: m.__name__)
def test_docstring_examples(mod):
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and (res.attempted > 0 or mod in TASK_MODULES)


HELPERS = [restore.TASKS.get(n).helper for n in restore.TASKS.names() if restore.TASKS.get(n).helper]


@pytest.mark.parametrize("name", HELPERS)
def test_task_helpers_are_documented_with_examples_that_run(name):
    """restore.denoise, restore.inpaint, ...: made from the task's declaration where the API
    lives; their examples (the task's helper_doc) run."""
    import inspect

    f = getattr(restore, name)
    assert f.__name__ == name and "image" in inspect.signature(f).parameters and "{params}" not in f.__doc__
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = doctest.DocTestFinder().find(f, name, globs={})
    for t in tests:
        runner.run(t)
    res = runner.summarize(verbose=False)
    assert res.failed == 0 and res.attempted > 0


def test_readme_python_examples_run_as_written(monkeypatch, tiny_prior, tmp_path):
    """README's Python blocks run in order, as written, from a folder holding examples/ (the
    tiny prior stands in for the shipped one, for speed), and the last writes out.png."""
    import re
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    blocks = re.findall(r"```python\n(.*?)```", (root / "README.md").read_text(), re.S)
    assert len(blocks) >= 2
    monkeypatch.setattr(restore.api, "get_prior", lambda prior, device: tiny_prior)
    monkeypatch.setattr(restore, "load_prior", lambda *a, **k: tiny_prior)
    shutil.copytree(root / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), names)
    assert restore.read_image(tmp_path / "out.png").array.shape == (512, 512, 3)
    assert names["std"].dtype == np.float32 and len(names["outs"]) == 2
