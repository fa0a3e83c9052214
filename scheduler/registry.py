"""An explicit name → plugin registry, one per role.

Settings pick a plugin by name (``kind``); each plugin declares the options it owns as a
pydantic model, and unknown or invalid options fail loudly naming the key and the plugin.
There is no discovery through entry points: ``scheduler.wiring`` registers every plugin by
hand, so what can be configured is visible in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from scheduler.errors import ConfigError, UnknownPluginError
from scheduler.settings import PluginConfig

T = TypeVar("T")
Ctx = TypeVar("Ctx")


class PluginOptions(BaseModel):
    """Base of every plugin's options model: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(PluginOptions):
    """For plugins that take no options."""


@dataclass(frozen=True, kw_only=True)
class Plugin(Generic[T, Ctx]):
    """One implementation of a role: its name, options model and factory."""

    name: str
    options: type[PluginOptions]
    factory: Callable[[Any, Ctx], T]
    summary: str


class Registry(Generic[T, Ctx]):
    """The plugins of one role (``store``, ``cluster``, ``forecast provider``, …)."""

    def __init__(self, role: str) -> None:
        self.role = role
        self._plugins: dict[str, Plugin[T, Ctx]] = {}

    def register(
        self,
        name: str,
        options: type[PluginOptions],
        factory: Callable[[Any, Ctx], T],
        summary: str,
    ) -> None:
        """Add a plugin; a name can be registered once."""
        if name in self._plugins:
            raise ValueError(f"{self.role} plugin {name!r} is already registered")
        self._plugins[name] = Plugin(name=name, options=options, factory=factory, summary=summary)

    def names(self) -> list[str]:
        """Registered plugin names, sorted."""
        return sorted(self._plugins)

    def plugins(self) -> Iterable[Plugin[T, Ctx]]:
        """Registered plugins, sorted by name."""
        return (self._plugins[name] for name in self.names())

    def plugin(self, kind: str) -> Plugin[T, Ctx]:
        """The plugin called ``kind``; ``UnknownPluginError`` lists the valid names."""
        try:
            return self._plugins[kind]
        except KeyError:
            raise UnknownPluginError(
                f"unknown {self.role} kind {kind!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def options(self, config: PluginConfig, where: str) -> PluginOptions:
        """Validate a section's options against its plugin; errors name key and plugin."""
        plugin = self.plugin(config.kind)
        try:
            return plugin.options.model_validate(config.options())
        except ValidationError as exc:
            problems = []
            for item in exc.errors():
                key = ".".join(str(part) for part in item["loc"])
                if item["type"] == "extra_forbidden":
                    allowed = ", ".join(plugin.options.model_fields) or "none"
                    problems.append(
                        f"{where}.{key}: unknown key '{key}' for {self.role} plugin "
                        f"'{plugin.name}' (its options: {allowed})"
                    )
                else:
                    problems.append(
                        f"{where}.{key}: {item['msg']} (option of {self.role} plugin "
                        f"'{plugin.name}')"
                    )
            raise ConfigError("\n".join(problems)) from exc

    def build(self, config: PluginConfig, context: Ctx, where: str) -> T:
        """Validate the options and call the plugin's factory."""
        options = self.options(config, where)
        return self.plugin(config.kind).factory(options, context)
