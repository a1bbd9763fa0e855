"""Where each kind is decided: ``DECIDED_BY`` names one existing function per kind."""

from __future__ import annotations

import importlib
import inspect

from xtalk.core.anomaly import DECIDED_BY, AnomalyKind


def _resolve(path: str) -> object:
    module_name, _, qualified = path.partition(".")
    target: object = importlib.import_module(f"xtalk.core.{module_name}")
    for part in qualified.split("."):
        target = getattr(target, part)
    return target


def test_every_kind_names_the_function_that_decides_it() -> None:
    assert set(DECIDED_BY) == set(AnomalyKind)
    for kind, path in DECIDED_BY.items():
        target = _resolve(path)
        assert callable(target), path
        module = inspect.getmodule(target)
        assert module is not None and kind.value in (module.__doc__ or "") + (target.__doc__ or ""), (
            f"{path}'s docs should say it decides {kind.value}"
        )
