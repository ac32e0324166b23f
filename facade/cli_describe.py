"""``dynio catalog list`` and ``dynio catalog describe``: what a catalog holds, as text."""

from __future__ import annotations

from dynio.cli import UsageError
from dynio.engine.errors import ConfigProblems
from dynio.engine.problems import did_you_mean
from dynio.engine.sources import kind_for
from dynio.engine.spec import CatalogSpec, EnvSpec, ResourceSpec

__all__ = ["describe", "list_resources"]


def _location(env: EnvSpec) -> str:
    """Where an environment's data lives, without its secret fields."""
    source = env.source
    kind = kind_for(source.kind)
    secret = {k for k, f in kind.fields.items() if f.secret} if kind is not None else set()
    shown = [f"{k}={v}" for k, v in source.settings.items() if k not in secret and k != "file_type"]
    hidden = [k for k in source.settings if k in secret]
    text = ", ".join(shown)
    if hidden:
        text += f" ({', '.join(hidden)} hidden)"
    return text


def list_resources(spec: CatalogSpec, env: str | None) -> str:
    """One line per resource: its environments with their type and format."""
    lines = []
    width = max((len(n) for n in spec.resources), default=0)
    for name, res in spec.resources.items():
        parts = []
        for env_name in res.env_names():
            if env_name in res.envs:
                src = res.envs[env_name].source
                parts.append(f"{env_name}: {src.kind}{' ' + src.format if src.format else ''}")
            else:
                parts.append(f"{env_name}: (has problems)")
        flag = "  [problems: dynio catalog check]" if res.problems else ""
        lines.append(f"{name.ljust(width)}  {', '.join(parts)}{flag}")
    return "\n".join(lines) if lines else "(no resources)"


def describe(spec: CatalogSpec, name: str, env: str | None) -> str:
    """A resource: each environment's type, format and location, its schema, rules, metrics."""
    res = spec.resources.get(name)
    if res is None:
        raise UsageError(f"no resource {name!r} in the catalog{did_you_mean(name, spec.resources)}")
    lines = [f"{name}  (defined in {res.file})"]
    lines += _envs(res, env)
    schema = res.schema or next((e.schema for e in res.envs.values() if e.schema), None)
    if schema is None:
        lines.append("schema: none (columns read as they are)")
        return "\n".join(lines)
    lines.append(f"schema: {schema.name}" + (f" ({schema.file})" if schema.file else " (inline)"))
    for col in schema.columns:
        extras = ["cast: lossy"] if col.lossy_cast else []
        extras += [
            f"{r.name}{'' if r.severity == 'error' else ' (' + r.severity + ')'}"
            + ("" if r.apply else " (off)")
            for r in col.rules
        ]
        if col.metrics:
            extras.append("metrics: " + ", ".join(col.metrics))
        lines.append(
            f"  {col.name}: {col.dtype.spelling}" + (f"  [{'; '.join(extras)}]" if extras else "")
        )
    for rule in schema.rules:
        lines.append(f"  (frame) {rule.name} {dict(rule.options)}")
    return "\n".join(lines)


def _envs(res: ResourceSpec, env: str | None) -> list[str]:
    lines = []
    for env_name in res.env_names():
        if env is not None and env_name != env:
            continue
        if env_name in res.envs:
            src = res.envs[env_name].source
            fmt = f" {src.format}" if src.format else ""
            lines.append(f"  {env_name}: {src.kind}{fmt}  {_location(res.envs[env_name])}")
        else:
            error = res.deferred[env_name]
            count = len(error.problems) if isinstance(error, ConfigProblems) else 1
            lines.append(f"  {env_name}: {count} problem(s), see dynio catalog check")
    for problem in res.problems:
        lines.append(f"  problem: {problem}")
    return lines
