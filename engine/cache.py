"""In-process caches: parsed specs per definition version, and live workflows per instance.

A workflow is cached only after its transaction commits, keyed by the lock version it
was saved with, and taken out (not shared) while a step runs on it. A cached workflow is
therefore always exactly the committed state; anything else is a miss and is loaded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from uuid import UUID

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

_PENDING = "atrium_pending_workflows"


class WorkflowCache:
    def __init__(self, maxsize: int = 2000):
        self.maxsize = maxsize
        self._items: OrderedDict[UUID, tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, instance_id: UUID, lock_version: int):
        """Remove and return the workflow if it is the committed version, else None."""
        with self._lock:
            item = self._items.pop(instance_id, None)
        if item is None or item[0] != lock_version:
            return None
        return item[1]

    def put(self, instance_id: UUID, lock_version: int, workflow) -> None:
        with self._lock:
            self._items[instance_id] = (lock_version, workflow)
            self._items.move_to_end(instance_id)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def discard(self, instance_id: UUID) -> None:
        with self._lock:
            self._items.pop(instance_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    # Transaction hooks ------------------------------------------------------------
    def stage(self, session: Session, instance_id: UUID, lock_version: int, workflow) -> None:
        """Cache `workflow` when `session` commits; forget it if it rolls back."""
        session.info.setdefault(_PENDING, {})[instance_id] = (lock_version, workflow)

    def take_staged(self, session: Session, instance_id: UUID, lock_version: int):
        """The workflow this transaction saved at `lock_version`, if any (it stays staged)."""
        staged = session.info.get(_PENDING, {}).get(instance_id)
        return staged[1] if staged is not None and staged[0] == lock_version else None

    def unstage(self, session: Session, instance_id: UUID) -> None:
        session.info.get(_PENDING, {}).pop(instance_id, None)

    def bind(self, factory: sessionmaker) -> None:
        @event.listens_for(factory, "after_commit")
        def _committed(session):
            for instance_id, (version, workflow) in session.info.pop(_PENDING, {}).items():
                self.put(instance_id, version, workflow)

        @event.listens_for(factory, "after_soft_rollback")
        def _rolled_back(session, _previous):
            session.info.pop(_PENDING, None)


class SpecCache:
    """(spec, subprocess specs, pinned form ids) by definition id; read-only once parsed."""

    def __init__(self):
        self._items: dict[int, tuple[object, dict, dict]] = {}
        self._lock = threading.Lock()

    def get(self, definition_id: int):
        return self._items.get(definition_id)

    def put(self, definition_id: int, specs: tuple[object, dict, dict]) -> None:
        with self._lock:
            self._items[definition_id] = specs
