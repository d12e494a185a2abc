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
    assert res.failed == 0 and res.attempted > 0
