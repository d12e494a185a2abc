"""The examples in the public docstrings run and say what they show."""

import doctest

import pytest

import restore
import restore.api
import restore.metrics
import restore.prior.weights


@pytest.mark.parametrize("mod", [restore, restore.api, restore.metrics, restore.prior.weights],
                         ids=lambda m: m.__name__)
def test_docstring_examples(mod):
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0
