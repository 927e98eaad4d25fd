"""Service-task handlers: named Python callables that BPMN service tasks call with parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class ServiceCall:
    """What a handler gets: the evaluated parameters and where the call comes from."""

    params: dict[str, Any]
    instance_id: UUID | None
    process_key: str
    element_id: str
    data: dict = field(repr=False)
    # The step's database session: handlers read and write records in the step's transaction.
    session: Any = field(default=None, repr=False)
    # Who started the instance (the requester a process answers to), and who made this step
    # happen: the starter, the person completing a task, or "timer".
    started_by: str | None = None
    actor: str | None = None
    # The process engine (its settings; handlers that start another process's instance in the same step).
    engine: Any = field(default=None, repr=False)


Handler = Callable[[ServiceCall], Any]


class ServiceTaskFailed(Exception):
    """A handler raised; the engine retries with backoff, then opens an incident."""

    def __init__(self, operation: str, element_id: str, cause: BaseException):
        super().__init__(f"service '{operation}' failed: {type(cause).__name__}: {cause}")
        self.operation = operation
        self.element_id = element_id


class ServiceRegistry:
    def __init__(self):
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str, handler: Handler) -> Handler:
        self._handlers[name] = handler
        return handler

    def handler(self, name: str) -> Callable[[Handler], Handler]:
        """Decorator form of `register`."""
        return lambda fn: self.register(name, fn)

    def unregister(self, name: str) -> None:
        self._handlers.pop(name, None)

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._handlers

    def names(self) -> list[str]:
        return sorted(self._handlers)


# The process-wide registry; business modules register their handlers here.
services = ServiceRegistry()
