"""The business processes' service-task handlers, one module per process, registered by name.

Each module defines `register(registry)`; `register_all` finds the modules itself, so adding a
process's handlers is adding a module here."""

from __future__ import annotations

import importlib
import pkgutil

from ..services import ServiceRegistry


def register_all(registry: ServiceRegistry) -> ServiceRegistry:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}").register(registry)
    return registry
