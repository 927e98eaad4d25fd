"""Who a process answers to: the account that started the instance, for assignees and notifications."""

from __future__ import annotations

from ..services import ServiceCall, ServiceRegistry


def requester_username(call: ServiceCall) -> str | None:
    """The starter's username; a process's first service task keeps it as `requester`, since an
    assignee expression can only read process data."""
    return call.started_by


def register(registry: ServiceRegistry) -> None:
    registry.register("requester.username", requester_username)
