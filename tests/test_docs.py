"""The examples in the public docstrings run and say what they show."""

import doctest
import importlib

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
