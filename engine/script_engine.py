"""The SpiffWorkflow script engine: restricted scripts plus dispatch of service tasks to handlers."""

from __future__ import annotations

import json

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from .scripting import RestrictedEnvironment
from .services import ServiceCall, ServiceRegistry, ServiceTaskFailed


class AtriumScriptEngine(PythonScriptEngine):
    def __init__(
        self, registry: ServiceRegistry, timeout_seconds: float = 2.0, *, memory_mb: int = 256, workers: int = 4
    ):
        super().__init__(environment=RestrictedEnvironment(timeout_seconds, memory_mb=memory_mb, workers=workers))
        self.registry = registry

    def call_service(self, task, operation_name=None, operation_params=None, **_kwargs):
        handler = self.registry.get(operation_name)
        element_id = task.task_spec.bpmn_id
        if handler is None:
            raise ServiceTaskFailed(
                operation_name, element_id, LookupError(f"no handler registered as '{operation_name}'")
            )
        top = task.workflow.top_workflow
        session = getattr(top, "atrium_session", None)
        call = ServiceCall(
            params={name: p["value"] for name, p in (operation_params or {}).items()},
            instance_id=getattr(top, "atrium_instance_id", None),
            process_key=top.spec.name,
            element_id=element_id,
            data=dict(task.data),
            session=session,
            started_by=getattr(top, "atrium_started_by", None),
            actor=getattr(top, "atrium_actor", None),
            engine=getattr(top, "atrium_engine", None),
        )
        try:
            if session is None:
                result = handler(call)
            else:
                # A savepoint, so a handler that fails half-way leaves none of its writes behind.
                with session.begin_nested():
                    result = handler(call)
        except Exception as exc:  # any handler failure becomes a retry or an incident
            raise ServiceTaskFailed(operation_name, element_id, exc) from exc
        # SpiffWorkflow's ServiceTask json.loads the result; default=str keeps dates readable.
        return json.dumps(result, default=str)
