"""`{{ expr }}` text templates whose expressions are CEL.

Using the condition language for templates means no second language to learn, no code execution
(CEL is side-effect free and has no I/O), and values can be computed from evidence, e.g.
`{{ int(log.kv.estimated_max_len * 0.95) }}`. Expressions are compiled at load, so lint sees them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from llmd_triage.tree.conditions import Bindings, Condition, ConditionSyntaxError, ConditionUnknown

_FIELD = re.compile(r"\{\{(.*?)\}\}", re.S)


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple[str | Condition, ...]

    @classmethod
    def literal(cls, text: str) -> Template:
        return cls(text, (text,) if text else ())

    @classmethod
    def compile(cls, source: str) -> Template:
        """Raises ConditionSyntaxError (col relative to the template) for a bad expression."""
        parts: list[str | Condition] = []
        pos = 0
        for m in _FIELD.finditer(source):
            if m.start() > pos:
                parts.append(source[pos : m.start()])
            expr = m.group(1).strip()
            if not expr:
                raise ConditionSyntaxError("empty {{ }} in text", m.start() + 1, m.start())
            try:
                parts.append(Condition.compile(expr))
            except ConditionSyntaxError as exc:
                lead = m.start(1) + len(m.group(1)) - len(m.group(1).lstrip())
                raise ConditionSyntaxError(str(exc), 0, lead + exc.offset) from None
            pos = m.end()
        if pos < len(source):
            parts.append(source[pos:])
        return cls(source, tuple(parts))

    @property
    def names(self) -> frozenset[str]:
        out: set[str] = set()
        for p in self.parts:
            if isinstance(p, Condition):
                out |= p.names
        return frozenset(out)

    @property
    def expressions(self) -> list[Condition]:
        return [p for p in self.parts if isinstance(p, Condition)]

    def render(self, context: dict[str, Any] | Bindings, *, strict: bool = False) -> str:
        """Render text for people: a value that cannot be computed shows as `<unknown: expr>`.

        With `strict`, it raises ConditionUnknown instead: a probe parameter must never carry a
        placeholder to the cluster.
        """
        out: list[str] = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
                continue
            try:
                out.append(format_value(p.evaluate(context)))
            except ConditionUnknown:
                if strict:
                    raise
                out.append(f"<unknown: {p.source}>")
        return "".join(out)


def format_value(value: Any) -> str:
    if value is None:
        return "<none>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else str(value)
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items())
    return str(value)


def render_value(value: Any, context: dict[str, Any]) -> Any:
    """Render templates inside a parameter structure (dicts, lists, strings); other values pass through.

    A string that is exactly one `{{ expr }}` keeps the expression's type (an int stays an int).
    """
    if isinstance(value, str):
        if "{{" not in value:
            return value
        tmpl = Template.compile(value)
        if len(tmpl.parts) == 1 and isinstance(tmpl.parts[0], Condition):
            return tmpl.parts[0].evaluate(context)
        return tmpl.render(context, strict=True)
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    return value
