"""The process engine: start instances, complete tasks, fire timers, deliver messages.

Every operation is one engine step inside the caller's transaction: load the instance,
run SpiffWorkflow until it waits, then save state, inbox rows, timers, subscriptions and
history together. The instance row carries an optimistic lock version, so of two
concurrent steps on one instance exactly one commits and the other raises Conflict.
A failing script or service task does not abort the step: it becomes an incident (or a
scheduled retry) saved with the state reached so far.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from atrium import clock
from atrium.errors import Conflict, InvalidInput, NotFound
from atrium.settings import Settings
from storage import definitions as definition_store
from storage import instances as instance_store
from storage import tasks as task_store
from storage.db import transaction
from storage.definitions import ProcessDefinition
from storage.instances import ACTIVE, CANCELLED, COMPLETED, ERROR, Incident, ProcessInstance
from storage.timers import RETRY, Timer

from . import steps
from .cache import SpecCache, WorkflowCache
from .forms import validate_submission
from .script_engine import AtriumScriptEngine
from .scripting import ScriptTimeout
from .serializer import spec_from_json, state_from_bytes, state_to_bytes
from .services import ServiceRegistry, ServiceTaskFailed, services as default_services

log = logging.getLogger(__name__)

# How long a due timer of an instance held by an incident waits before it is looked at again.
INCIDENT_TIMER_DELAY = timedelta(minutes=1)


@dataclass
class StepFailure:
    """A script, expression or service failure inside a step: the incident's content."""

    element_id: str | None
    element_name: str | None
    message: str
    service: bool


class ProcessEngine:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        settings: Settings | None = None,
        services: ServiceRegistry | None = None,
    ):
        self.sessions = session_factory
        self.settings = settings or Settings.from_env()
        self.services = services if services is not None else default_services
        self.script_engine = AtriumScriptEngine(self.services, self.settings.script_timeout_seconds)
        self.specs = SpecCache()
        self.forms: dict[int, object] = {}
        self.workflows = WorkflowCache()
        self.workflows.bind(session_factory)

    # Units of work -------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work; StaleDataError from a concurrent step surfaces as Conflict."""
        try:
            with transaction(self.sessions) as session:
                yield session
        except StaleDataError as exc:
            raise Conflict("the process instance was changed by another request; reload and try again") from exc

    # Loading -------------------------------------------------------------------------
    def spec_for(self, definition: ProcessDefinition):
        """(spec, subprocess specs) of a definition version, restored once and cached."""
        cached = self.specs.get(definition.id)
        if cached is None:
            spec, subprocess_specs = spec_from_json(definition.spec_json)
            cached = (spec, subprocess_specs, dict(definition.form_ids or {}))
            self.specs.put(definition.id, cached)
        return cached[0], cached[1]

    def form_ids_for(self, session: Session, instance: ProcessInstance) -> dict[str, int]:
        """User-task element id -> the form version pinned when the definition was deployed."""
        cached = self.specs.get(instance.definition_id)
        if cached is None:
            self.spec_for(session.get(ProcessDefinition, instance.definition_id))
            cached = self.specs.get(instance.definition_id)
        return cached[2]

    def form(self, session: Session, form_id: int):
        """A form version; versions never change, so they are cached."""
        form = self.forms.get(form_id)
        if form is None:
            form = definition_store.form_by_id(session, form_id=form_id)
            session.expunge(form)
            self.forms[form_id] = form
        return form

    def _new_workflow(self, definition: ProcessDefinition) -> BpmnWorkflow:
        spec, subprocess_specs = self.spec_for(definition)
        return BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)

    def _load_workflow(self, session: Session, instance: ProcessInstance) -> BpmnWorkflow:
        workflow = self.workflows.take(instance.id, instance.lock_version)
        if workflow is None:
            definition = session.get(ProcessDefinition, instance.definition_id)
            spec, subprocess_specs = self.spec_for(definition)
            workflow = state_from_bytes(instance.state, spec, subprocess_specs)
            workflow.script_engine = self.script_engine
        workflow.atrium_instance_id = instance.id
        return workflow

    def _instance_or_raise(self, session: Session, instance_id: uuid.UUID) -> ProcessInstance:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(f"process instance {instance_id} not found")
        return instance

    # Starting ------------------------------------------------------------------------
    def start_instance(
        self,
        session: Session,
        *,
        process_key: str,
        version: int | None = None,
        variables: dict | None = None,
        business_key: str | None = None,
        actor: str | None = None,
        trigger: Callable[[BpmnWorkflow], None] | None = None,
    ) -> ProcessInstance:
        """Start an instance of the latest (or given) version and run it until it waits."""
        if version is None:
            definition = definition_store.latest_definition(session, process_key=process_key)
        else:
            definition = definition_store.definition_version(session, process_key=process_key, version=version)
        if definition is None:
            which = f"version {version} of " if version else ""
            raise NotFound(f"no deployed {which}process '{process_key}'")
        if variables is not None and not isinstance(variables, dict):
            raise InvalidInput("variables must be a JSON object", {"variables": ["must be an object"]})
        return self._start(session, definition, variables or {}, business_key, actor, trigger)

    def _start(self, session, definition, variables, business_key, actor, trigger) -> ProcessInstance:
        now = clock.now()
        instance = ProcessInstance(
            id=uuid.uuid4(),
            definition_id=definition.id,
            process_key=definition.process_key,
            business_key=business_key,
            status=ACTIVE,
            started_by=actor,
            started_at=now,
            updated_at=now,
        )
        workflow = self._new_workflow(definition)
        workflow.atrium_instance_id = instance.id
        workflow.task_tree.data.update(variables)
        session.add(instance)
        ctx = steps.StepContext(session, instance.id, instance.process_key, now, actor)
        steps.add_instance_event(ctx, "instance_started", {"version": definition.version, "business_key": business_key})

        def action(wf):
            wf.do_engine_steps()
            if trigger is not None:
                trigger(wf)

        self._step(session, instance, workflow, action, actor=actor)
        return instance

    # Tasks ---------------------------------------------------------------------------
    def complete_task(self, session: Session, *, task_id: uuid.UUID, data: dict | None = None, actor: str | None = None) -> ProcessInstance:
        """Validate `data` against the task's form, merge it and advance the instance."""
        row = task_store.get_task(session, task_id=task_id)
        if row is None:
            raise NotFound(f"task {task_id} not found")
        if row.status != task_store.OPEN:
            raise Conflict(f"task {task_id} is already {row.status}")
        data = data or {}
        if row.form_id is not None:
            validate_submission(self.form(session, row.form_id).schema, data)
        elif not isinstance(data, dict):
            raise InvalidInput("task data must be a JSON object", {"data": ["must be an object"]})
        instance = self._instance_or_raise(session, row.instance_id)
        if instance.status not in (ACTIVE, ERROR):
            raise Conflict(f"process instance {instance.id} is {instance.status}")
        workflow = self._load_workflow(session, instance)
        task = workflow.get_task_from_id(task_id)
        if task is None or not task.has_state(TaskState.READY):
            raise Conflict(f"task {task_id} can no longer be completed")
        row.status = task_store.COMPLETED
        row.completed_at = clock.now()
        row.completed_by = actor

        def action(wf):
            task.set_data(**data)
            task.run()
            wf.do_engine_steps()

        self._step(session, instance, workflow, action, actor=actor, user_actor=actor, settled=frozenset({task_id}))
        return instance

    # Instance control ------------------------------------------------------------------
    def cancel_instance(self, session: Session, *, instance_id: uuid.UUID, actor: str | None = None) -> ProcessInstance:
        instance = self._instance_or_raise(session, instance_id)
        if instance.status in (COMPLETED, CANCELLED):
            raise Conflict(f"process instance {instance_id} is already {instance.status}")
        workflow = self._load_workflow(session, instance)
        before = steps.snapshot(workflow)
        workflow.cancel()
        now = clock.now()
        ctx = steps.StepContext(session, instance.id, instance.process_key, now, actor)
        steps.write_history(ctx, workflow, before)
        steps.add_instance_event(ctx, "instance_cancelled")
        for row in task_store.open_tasks(session, instance_id=instance.id):
            row.status = task_store.CANCELLED
            row.completed_at = now
        steps.clear_waits(session, instance.id)
        for incident in instance_store.open_incidents(session, instance_id=instance.id):
            incident.resolved_at = now
        instance.status = CANCELLED
        instance.ended_at = now
        self._save(session, instance, workflow, now)
        return instance

    def retry_instance(self, session: Session, *, instance_id: uuid.UUID, actor: str | None = None, attempt: int = 1) -> ProcessInstance:
        """Run the failed element again (after its cause was fixed) and continue."""
        instance = self._instance_or_raise(session, instance_id)
        if instance.status != ERROR and attempt == 1:
            raise Conflict(f"process instance {instance_id} has no incident to retry")
        workflow = self._load_workflow(session, instance)
        now = clock.now()
        for incident in instance_store.open_incidents(session, instance_id=instance.id):
            incident.resolved_at = now
        ctx = steps.StepContext(session, instance.id, instance.process_key, now, actor)
        steps.add_instance_event(ctx, "retried", {"attempt": attempt})

        def action(wf):
            for task in wf.get_tasks(state=TaskState.ERROR):
                task._set_state(TaskState.READY)
            wf.do_engine_steps()

        self._step(session, instance, workflow, action, actor=actor, attempt=attempt)
        return instance

    # Events --------------------------------------------------------------------------
    def fire_timer(self, session: Session, timer: Timer) -> bool:
        """Fire one claimed timer row inside the scheduler's transaction; False if it could not fire yet."""
        if timer.kind == RETRY:
            session.delete(timer)
            attempt = (timer.cycle or {}).get("attempt", 2)
            instance = session.get(ProcessInstance, timer.instance_id)
            if instance is not None and instance.status == ACTIVE:
                self.retry_instance(session, instance_id=instance.id, actor="timer", attempt=attempt)
            return True
        if timer.instance_id is None:
            from .deployments import fire_start_timer  # deployments imports this module

            fire_start_timer(self, session, timer)
            return True
        instance = session.get(ProcessInstance, timer.instance_id)
        if instance is not None and instance.status == ERROR:
            # An incident holds the instance; its timers wait until it is retried.
            timer.due_at = clock.now() + INCIDENT_TIMER_DELAY
            return False
        if instance is None or instance.status != ACTIVE:
            session.delete(timer)
            return False
        workflow = self._load_workflow(session, instance)
        task = workflow.get_task_from_id(timer.task_id)
        if task is None or not task.has_state(TaskState.WAITING):
            session.delete(timer)
            self.workflows.stage(session, instance.id, instance.lock_version, workflow)
            return False

        def action(wf):
            if not isinstance(task.task_spec.event_definition, CycleTimerEventDefinition):
                task._set_internal_data(event_fired=True)
                task.task_spec._update(task)
            wf.refresh_timers()
            wf.do_engine_steps()

        ctx = steps.StepContext(session, instance.id, instance.process_key, clock.now(), "timer")
        steps.add_instance_event(ctx, "timer_fired", {"due_at": timer.due_at.isoformat()}, element_id=timer.element_id)
        self._step(session, instance, workflow, action, actor="timer")
        return True

    def deliver_message(self, session: Session, instance: ProcessInstance, task_id: uuid.UUID, name: str, payload, correlations: dict | None = None, actor: str | None = None) -> bool:
        """Give a waiting catch event (or receive task) its message; False if it no longer waits."""
        workflow = self._load_workflow(session, instance)
        task = workflow.get_task_from_id(task_id)
        if task is None or not task.has_state(TaskState.WAITING):
            self.workflows.stage(session, instance.id, instance.lock_version, workflow)
            return False
        self._deliver(session, instance, workflow, task, name, payload, actor)
        return True

    def _deliver(self, session, instance, workflow, task, name, payload, actor):
        def action(wf):
            self._deliver_in_step(wf, task, payload)

        ctx = steps.StepContext(session, instance.id, instance.process_key, clock.now(), actor)
        steps.add_instance_event(ctx, "message_received", {"message": name}, element_id=task.task_spec.bpmn_id)
        self._step(session, instance, workflow, action, actor=actor)

    @staticmethod
    def _deliver_in_step(workflow: BpmnWorkflow, task, payload) -> None:
        definition = task.task_spec.event_definition
        if isinstance(payload, dict) and getattr(definition, "message_var", None) is None:
            task.data.update(payload)  # Camunda style: the payload's fields become variables
        correlations = definition.calculate_correlations(
            workflow.script_engine, definition.correlation_properties, payload or {})
        workflow.catch(BpmnEvent(definition, payload, correlations))
        workflow.do_engine_steps()

    def instance_variables(self, session: Session, instance: ProcessInstance) -> dict:
        """The process data as the latest live tasks see it (all of it once completed)."""
        workflow = self._load_workflow(session, instance)
        try:
            if workflow.completed:
                return dict(workflow.data)
            merged: dict = {}
            for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR | TaskState.STARTED):
                merged.update(task.data)
            if not merged and workflow.last_task is not None:
                merged.update(workflow.last_task.data)
            return merged
        finally:
            # Cached only if this transaction commits: the state it reflects may not.
            self.workflows.stage(session, instance.id, instance.lock_version, workflow)

    # The step --------------------------------------------------------------------------
    def _step(
        self,
        session: Session,
        instance: ProcessInstance,
        workflow: BpmnWorkflow,
        action: Callable[[BpmnWorkflow], None],
        *,
        actor: str | None,
        user_actor: str | None = None,
        attempt: int = 1,
        settled: frozenset = frozenset(),
    ) -> None:
        before = steps.snapshot(workflow)
        ready_before = steps.ready_user_task_ids(workflow)
        waits_before = steps.waiting_events(workflow)
        failure = None
        try:
            action(workflow)
        except (SpiffWorkflowException, ServiceTaskFailed, ScriptTimeout) as exc:
            failure = self._failure_from(workflow, exc)
        now = clock.now()
        ctx = steps.StepContext(session, instance.id, instance.process_key, now, actor, settled)
        steps.write_history(ctx, workflow, before, user_task_actor=user_actor)
        try:
            steps.sync_user_tasks(ctx, workflow, ready_before, self._evaluate, self.form_ids_for(session, instance))
        except (SpiffWorkflowException, ScriptTimeout, ValueError, TypeError) as exc:
            # A bad assignee or due-date expression: the task stays ready, the instance gets an incident.
            failure = failure or self._failure_from(workflow, exc)
            for task_id in steps.ready_user_task_ids(workflow) - ready_before:
                workflow.get_task_from_id(task_id)._set_state(TaskState.ERROR)
        steps.sync_waits(ctx, waits_before, steps.waiting_events(workflow))
        if failure is not None:
            self._record_failure(ctx, instance, failure, attempt)
        elif workflow.completed:
            instance.status = COMPLETED
            instance.ended_at = now
            steps.add_instance_event(ctx, "instance_completed")
        elif workflow.get_tasks(state=TaskState.ERROR):
            instance.status = ERROR  # another branch still holds an open incident
        else:
            instance.status = ACTIVE
        self._save(session, instance, workflow, now)

    def _save(self, session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, now) -> None:
        instance.state = state_to_bytes(workflow)
        instance.updated_at = now
        try:
            session.flush()
            steps.flush_history(session)
        except StaleDataError as exc:
            raise Conflict("the process instance was changed by another request; reload and try again") from exc
        except OperationalError as exc:
            if "locked" in str(exc).lower():
                raise Conflict("the process instance is busy; try again") from exc
            raise
        self.workflows.stage(session, instance.id, instance.lock_version, workflow)

    def _evaluate(self, task, expression: str):
        return self.script_engine.evaluate(task, expression)

    def _failure_from(self, workflow: BpmnWorkflow, exc: Exception) -> StepFailure:
        task = getattr(exc, "task", None)
        if task is None:
            errored = workflow.get_tasks(state=TaskState.ERROR)
            task = errored[0] if errored else None
        spec = task.task_spec if task is not None else getattr(exc, "task_spec", None)
        element_id = getattr(exc, "element_id", None) or getattr(spec, "bpmn_id", None)
        message = str(exc.args[0]) if exc.args else type(exc).__name__
        notes = [n for n in getattr(exc, "notes", []) if n]
        if notes:
            message = f"{message} ({'; '.join(notes)})"
        cause = exc
        while cause is not None and not isinstance(cause, ServiceTaskFailed):
            cause = cause.__cause__ or cause.__context__
        return StepFailure(element_id, getattr(spec, "bpmn_name", None), message, service=cause is not None)

    def _record_failure(self, ctx: steps.StepContext, instance: ProcessInstance, failure: StepFailure, attempt: int) -> None:
        retries = self.settings.service_retries
        if failure.service and attempt <= retries:
            delay = self.settings.service_backoff_seconds * (2 ** (attempt - 1))
            due = ctx.now + timedelta(seconds=delay)
            ctx.session.add(Timer(kind=RETRY, instance_id=instance.id, element_id=failure.element_id or "",
                                  due_at=due, cycle={"attempt": attempt + 1}))
            steps.add_instance_event(ctx, "service_retry_scheduled",
                                     {"message": failure.message, "attempt": attempt, "retry_at": due.isoformat()},
                                     element_id=failure.element_id)
            instance.status = ACTIVE
            return
        ctx.session.add(Incident(instance_id=instance.id, element_id=failure.element_id, element_name=failure.element_name,
                                 message=failure.message, attempts=attempt, created_at=ctx.now))
        steps.add_instance_event(ctx, "incident", {"message": failure.message}, element_id=failure.element_id)
        instance.status = ERROR
