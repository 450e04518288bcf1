"""Finds every Probe subclass in the probes package and in the `llmd_triage.probes.v1` entry points."""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any

import jsonschema

from llmd_triage.plugins import import_submodules, load_entry_points
from llmd_triage.probes.base import Probe

ENTRY_POINT_GROUP = "llmd_triage.probes.v1"


class Registry:
    def __init__(self, probes: dict[str, Probe] | None = None) -> None:
        self.probes: dict[str, Probe] = dict(probes or {})

    def add(self, probe_cls: type[Probe]) -> None:
        self.probes[probe_cls.name] = probe_cls()

    def get(self, name: str) -> Probe | None:
        return self.probes.get(name)

    def names(self) -> list[str]:
        return sorted(self.probes)

    def policy_problems(self, name: str, params: dict[str, Any]) -> list[str]:
        probe = self.probes.get(name)
        return probe.policy_problems(params) if probe else []

    def check_params(self, name: str, params: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems with parameters as (path within params, sentence); empty when they are valid."""
        probe = self.probes[name]
        validator = jsonschema.Draft202012Validator(probe.params_schema)
        out = []
        for err in sorted(validator.iter_errors(params), key=lambda e: [str(p) for p in e.absolute_path]):
            path = tuple(err.absolute_path)
            where = ".".join(str(p) for p in path)
            out.append((path, f"{where + ': ' if where else ''}{err.message}"))
        return out


def _classes(obj: object) -> list[type[Probe]]:
    if inspect.isclass(obj) and issubclass(obj, Probe) and not inspect.isabstract(obj):
        return [obj]
    if inspect.ismodule(obj):
        return [
            c
            for _, c in inspect.getmembers(obj, inspect.isclass)
            if c.__module__ == obj.__name__ and issubclass(c, Probe) and not inspect.isabstract(c)
        ]
    return []


@cache
def default_registry() -> Registry:
    reg = Registry()
    for module in import_submodules("llmd_triage.probes", skip=frozenset({"base", "registry"})):
        for cls in _classes(module):
            reg.add(cls)
    for obj in load_entry_points(ENTRY_POINT_GROUP):
        for cls in _classes(obj):
            reg.add(cls)
    return reg
