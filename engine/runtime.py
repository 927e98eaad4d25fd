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
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from atrium import audit, clock
from atrium.errors import Conflict, InvalidInput, NotFound
from atrium.settings import Settings
from storage import definitions as definition_store
from storage.db import read_transaction, transaction
from storage.definitions import ProcessDefinition
from storage.instances import ACTIVE, CANCELLED, COMPLETED, ERROR
from storage.step_writes import (
    InstanceRow,
    StepWrites,
    load_instance,
    load_state,
    open_task_ids,
    save_step,
    task_for_completion,
)
from storage.tasks import OPEN, rows_as_written
from storage.timers import RETRY
from storage.translations import PROCESS, translations_of

from . import steps
from .cache import SpecCache, WorkflowCache
from .event_subprocesses import deliver_to_trigger, trigger_for
from .form_references import ReferenceChecks, check_references
from .forms import validate_submission
from .handlers import register_all
from .script_engine import AtriumScriptEngine
from .scripting import ScriptTimeout
from .serializer import spec_from_json, state_from_bytes, state_to_bytes
from .services import ServiceRegistry, ServiceTaskFailed
from .services import services as default_services
from .start_forms import has_plain_start_event, start_form_variables
from .submissions import (
    check_declared,
    check_outside_variables,
    check_size,
    start_tasks,
    task_submission,
    writable_fields,
)
from .task_metadata import refuse_excluded_performer

log = logging.getLogger(__name__)

# How long a due timer of an instance held by an incident waits before it is looked at again.
INCIDENT_TIMER_DELAY = timedelta(minutes=1)
_CONFLICT = "the process instance was changed by another request; reload and try again"


def instance_target(instance_id) -> str:
    """An instance as an audit row's target."""
    return f"instance:{instance_id}"


def task_target(task_id) -> str:
    """A user task as an audit row's target."""
    return f"task:{task_id}"


def _translations_reader(session: Session) -> Callable[[str], dict]:
    """A process's translation files (locale -> content), read at most once per step and only
    when the step opens a user task."""
    read: dict[str, dict] = {}

    def translations(process_id: str) -> dict:
        if process_id not in read:
            read[process_id] = translations_of(session, kind=PROCESS, names=[process_id]).get(process_id, {})
        return read[process_id]

    return translations


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
        held_connection: Callable[[], Connection | None] | None = None,
        read_sessions: sessionmaker[Session] | None = None,
    ):
        self.sessions = session_factory
        # Sessions on the read replica (ATRIUM_DATABASE_REPLICA_URL), for reports and searches; None: the primary.
        self.read_sessions = read_sessions
        # The caller's connection for the current unit of work, if it holds one (the API
        # holds one per request); None means "check one out of the pool".
        self.held_connection = held_connection or (lambda: None)
        self.settings = settings or Settings.from_env()
        if services is None:
            services = register_all(default_services)
        self.services = services
        self.script_engine = AtriumScriptEngine(
            self.services,
            self.settings.script_timeout_seconds,
            memory_mb=self.settings.script_memory_mb,
            workers=self.settings.script_workers,
        )
        self.specs = SpecCache()
        self.forms: dict[int, object] = {}
        self.versions: dict[int, int] = {}
        self.start_forms: dict[int, tuple[frozenset[int], frozenset[str]]] = {}
        self.workflows = WorkflowCache()
        self.workflows.bind(session_factory)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work, committed once at the end."""
        with transaction(self.sessions, bind=self.held_connection()) as session:
            yield session

    @contextmanager
    def read_transaction(self) -> Iterator[Session]:
        """A unit of work that only reads and may lag a little behind the caller's own writes (reports,
        statistics, searches): on the read replica when one is set, else the same as `transaction`."""
        if self.read_sessions is None:
            with self.transaction() as session:
                yield session
            return
        with read_transaction(self.read_sessions) as session:
            yield session

    # Definitions and forms -------------------------------------------------------------
    def _definition_specs(self, session: Session, definition_id: int):
        """(spec, subprocess specs, pinned form ids) of a definition version, restored once."""
        cached = self.specs.get(definition_id)
        if cached is None:
            definition = session.get(ProcessDefinition, definition_id)
            spec, subprocess_specs = spec_from_json(definition.spec_json)
            cached = (spec, subprocess_specs, dict(definition.form_ids or {}))
            self.specs.put(definition_id, cached)
        return cached

    def spec_for(self, session: Session, definition_id: int):
        spec, subprocess_specs, _ = self._definition_specs(session, definition_id)
        return spec, subprocess_specs

    def form(self, session: Session, form_id: int):
        """A form version; versions never change, so they are cached."""
        form = self.forms.get(form_id)
        if form is None:
            form = definition_store.form_by_id(session, form_id=form_id)
            session.expunge(form)
            self.forms[form_id] = form
        return form

    def start_form(self, session: Session, definition_id: int) -> tuple[frozenset[int], frozenset[str]]:
        """(form ids, fields) of a definition version's start form: the form of the user tasks it reaches
        first, which the starter fills in. Its fields are the starter's to give (see engine.submissions)."""
        cached = self.start_forms.get(definition_id)
        if cached is None:
            spec, _, form_ids = self._definition_specs(session, definition_id)
            ids = frozenset(form_ids[element] for element in start_tasks(spec) if element in form_ids)
            fields = frozenset().union(*(writable_fields(self.form(session, form_id).schema) for form_id in ids))
            cached = self.start_forms[definition_id] = (ids, fields)
        return cached

    def manual_start(self, session: Session, definition_id: int):
        """(has a plain start event, its start form or None) of a definition version: what a person starting
        it by hand needs. The start form is the one form of the user tasks it reaches first (None when
        they have none, or several different ones)."""
        spec = self.spec_for(session, definition_id)[0]
        form_ids = self.start_form(session, definition_id)[0]
        form = self.form(session, next(iter(form_ids))) if len(form_ids) == 1 else None
        return has_plain_start_event(spec), form

    def check_outside_data(self, session: Session, definition_id: int, values, *, field: str) -> None:
        """Start variables or a message payload from a person: within the size limit, and no control
        variables but those the process's start form declares. InvalidInput naming the field otherwise."""
        check_size(values, field=field, limit=self.settings.max_data_bytes)
        if isinstance(values, dict):
            check_outside_variables(values, field=field, allowed=self.start_form(session, definition_id)[1])

    def check_start_form_data(
        self, session: Session, definition_id: int, variables: dict, references: ReferenceChecks | None
    ) -> dict:
        """The start variables a person's start writes: with a start form, only its declared fields, checked
        as a task's submission is (engine.start_forms.start_form_variables)."""
        return start_form_variables(self, session, definition_id, variables, references)

    # Loading -------------------------------------------------------------------------
    def _load_workflow(self, session: Session, instance) -> BpmnWorkflow:
        workflow = self.workflows.take(instance.id, instance.lock_version)
        if workflow is None:
            state = instance.state
            if state is None:  # read without it, as the cache usually has the workflow
                state = load_state(session, instance_id=instance.id, lock_version=instance.lock_version)
                if state is None:
                    raise Conflict(_CONFLICT)
            spec, subprocess_specs = self.spec_for(session, instance.definition_id)
            workflow = state_from_bytes(state, spec, subprocess_specs)
            workflow.script_engine = self.script_engine
        workflow.atrium_instance_id = instance.id
        return workflow

    def load_instance_or_raise(self, session: Session, instance_id: uuid.UUID) -> InstanceRow:
        instance = load_instance(session, instance_id=instance_id)
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
        untrusted: bool = False,
        references: ReferenceChecks | None = None,
    ) -> InstanceRow:
        """Start an instance of the latest (or given) version and run it until it waits.

        `untrusted`: the variables come from a person (the API), not from domain code that set
        them from records, so they are checked by `check_outside_data`, and those that fill in the
        start form by `check_start_form_data` (with `references`: what that person may choose), which
        also leaves out what a start form does not let a person fill in."""
        if version is None:
            definition = definition_store.latest_definition(session, process_key=process_key, head_only=True)
        else:
            definition = definition_store.definition_version(
                session, process_key=process_key, version=version, head_only=True
            )
        if definition is None:
            which = f"version {version} of " if version else ""
            raise NotFound(f"no deployed {which}process '{process_key}'")
        if variables is not None and not isinstance(variables, dict):
            raise InvalidInput("variables must be a JSON object", {"variables": ["must be an object"]})
        if untrusted:
            self.check_outside_data(session, definition.id, variables or {}, field="variables")
            variables = self.check_start_form_data(session, definition.id, variables or {}, references)
        return self.start_from_definition(session, definition, variables or {}, business_key, actor)

    def start_from_definition(
        self,
        session: Session,
        definition: ProcessDefinition,
        variables: dict,
        business_key: str | None,
        actor: str | None,
        trigger: Callable[[BpmnWorkflow], None] | None = None,
    ) -> InstanceRow:
        """Start `definition`; `trigger` fires a timer or message start event inside the first step."""
        now = clock.now()
        instance = InstanceRow(
            id=uuid.uuid4(),
            definition_id=definition.id,
            process_key=definition.process_key,
            business_key=business_key,
            status=ACTIVE,
            lock_version=0,
            started_by=actor,
            started_at=now,
            updated_at=now,
        )
        spec, subprocess_specs = self.spec_for(session, definition.id)
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
        workflow.atrium_instance_id = instance.id
        workflow.task_tree.data.update(variables)
        ctx = self._context(instance, actor)
        steps.add_instance_event(ctx, "instance_started", {"version": definition.version, "business_key": business_key})

        def action(wf):
            if trigger is None:
                wf.do_engine_steps()
            else:  # the trigger runs the process from the start event that fired (engine.start_forms.begin_at)
                trigger(wf)

        self._step(session, instance, workflow, action, ctx, new=True)
        audit.record(
            session,
            "instance.start",
            actor=actor,
            target=instance_target(instance.id),
            detail={
                "process_key": definition.process_key,
                "version": definition.version,
                "business_key": business_key,
                "status": instance.status,
            },
        )
        return instance

    # Tasks ---------------------------------------------------------------------------
    def complete_task(
        self,
        session: Session,
        *,
        task_id: uuid.UUID,
        data: dict | None = None,
        actor: str | None = None,
        task_row: dict | None = None,
        instance: InstanceRow | None = None,
        references: ReferenceChecks | None = None,
    ) -> InstanceRow:
        """Validate `data` against the task's form, merge the fields it takes and advance the instance.

        A task takes only the fields its form lets a person fill in, never a control variable
        unless the starter fills in the start form (engine.submissions); undeclared fields are refused.
        `references`: what the acting person may choose in the form's person and client fields
        (engine.form_references); without it, as for domain code, those are not checked.
        `task_row` (status, instance_id, form_id) and `instance` save reads when the caller
        already has them; both are re-checked when saving, so stale ones can only lead to Conflict."""
        row = task_row or task_for_completion(session, task_id=task_id)
        if row is None:
            raise NotFound(f"task {task_id} not found")
        row = row if isinstance(row, dict) else row._asdict()
        if row["status"] != OPEN:
            raise Conflict(f"task {task_id} is already {row['status']}")
        refuse_excluded_performer(row, actor)
        data = data if data is not None else {}
        check_size(data, field="data", limit=self.settings.max_data_bytes)
        schema = self.form(session, row["form_id"]).schema if row["form_id"] is not None else None
        check_declared(schema, data)
        if schema is not None:
            validate_submission(schema, data)
            check_references(schema, data, references, prefix="data")
        instance = instance or self.load_instance_or_raise(session, row["instance_id"])
        starter_fills_start_form = (
            actor is not None
            and actor == instance.started_by
            and row["form_id"] in self.start_form(session, instance.definition_id)[0]
        )
        data = task_submission(schema, data, may_set_control=starter_fills_start_form)
        if instance.status not in (ACTIVE, ERROR):
            raise Conflict(f"process instance {instance.id} is {instance.status}")
        workflow = self._load_workflow(session, instance)
        task = workflow.get_task_from_id(task_id)
        if task is None or not task.has_state(TaskState.READY):
            raise Conflict(f"task {task_id} can no longer be completed")
        ctx = self._context(instance, actor, settled=frozenset({task_id}))
        ctx.writes.completed_task = (task_id, actor)

        def action(wf):
            task.set_data(**data)
            task.run()
            wf.do_engine_steps()

        self._step(session, instance, workflow, action, ctx, user_actor=actor)
        # The fields written, not their values: a form holds clients' and people's data.
        audit.record(
            session,
            "task.complete",
            actor=actor,
            target=task_target(task_id),
            detail={
                "instance": str(instance.id),
                "process_key": instance.process_key,
                "element_id": task.task_spec.bpmn_id,
                "fields": sorted(data),
            },
        )
        return instance

    # Instance control ------------------------------------------------------------------
    def cancel_instance(self, session: Session, *, instance_id: uuid.UUID, actor: str | None = None) -> InstanceRow:
        instance = self.load_instance_or_raise(session, instance_id)
        if instance.status in (COMPLETED, CANCELLED):
            raise Conflict(f"process instance {instance_id} is already {instance.status}")
        workflow = self._load_workflow(session, instance)
        before = steps.snapshot(workflow)
        workflow.cancel()
        ctx = self._context(instance, actor)
        steps.write_history(ctx, steps.snapshot(workflow), before)
        steps.add_instance_event(ctx, "instance_cancelled")
        ctx.writes.cancelled_task_ids.extend(open_task_ids(session, instance_id=instance.id))
        ctx.writes.clear_waits = True
        ctx.writes.resolve_incidents = True
        instance.status = CANCELLED
        instance.ended_at = ctx.now
        self._save(session, instance, workflow, ctx, new=False)
        audit.record(
            session,
            "instance.cancel",
            actor=actor,
            target=instance_target(instance.id),
            detail={"process_key": instance.process_key},
        )
        return instance

    def retry_instance(
        self, session: Session, *, instance_id: uuid.UUID, actor: str | None = None, attempt: int = 1
    ) -> InstanceRow:
        """Run the failed element again (after its cause was fixed) and continue."""
        instance = self.load_instance_or_raise(session, instance_id)
        if instance.status != ERROR and attempt == 1:
            raise Conflict(f"process instance {instance_id} has no incident to retry")
        workflow = self._load_workflow(session, instance)
        ctx = self._context(instance, actor)
        ctx.writes.resolve_incidents = True
        steps.add_instance_event(ctx, "retried", {"attempt": attempt})

        def action(wf):
            for task in wf.get_tasks(state=TaskState.ERROR):
                task._set_state(TaskState.READY)
            wf.do_engine_steps()

        self._step(session, instance, workflow, action, ctx, attempt=attempt)
        audit.record(
            session,
            "instance.retry",
            actor=actor,
            target=instance_target(instance.id),
            detail={"process_key": instance.process_key, "attempt": attempt, "status": instance.status},
        )
        return instance

    # Events --------------------------------------------------------------------------
    def fire_timer(self, session: Session, timer) -> bool:
        """Fire one claimed timer row inside the scheduler's transaction; False if it could not fire yet."""
        from storage.timers import delete_timer, postpone_timer

        if timer.kind == RETRY:
            delete_timer(session, timer_id=timer.id)
            instance = load_instance(session, instance_id=timer.instance_id, with_state=False)
            if instance is not None and instance.status == ACTIVE:
                # Its audit row is the retry's (instance.retry, actor timer).
                self.retry_instance(
                    session, instance_id=instance.id, actor=audit.TIMER, attempt=(timer.cycle or {}).get("attempt", 2)
                )
            return True
        if timer.instance_id is None:
            from .deployments import fire_start_timer  # deployments imports this module

            fire_start_timer(self, session, timer)
            return True
        instance = load_instance(session, instance_id=timer.instance_id)
        if instance is not None and instance.status == ERROR:
            # An incident holds the instance; its timers wait until it is retried.
            postpone_timer(session, timer_id=timer.id, due_at=clock.now() + INCIDENT_TIMER_DELAY)
            return False
        if instance is None or instance.status != ACTIVE:
            delete_timer(session, timer_id=timer.id)
            return False
        workflow = self._load_workflow(session, instance)
        task = workflow.get_task_from_id(timer.task_id)
        if task is None or not task.has_state(TaskState.WAITING):
            delete_timer(session, timer_id=timer.id)
            self.workflows.stage(session, instance.id, instance.lock_version, workflow)
            return False

        def action(wf):
            if not isinstance(task.task_spec.event_definition, CycleTimerEventDefinition):
                task._set_internal_data(event_fired=True)
                task.task_spec._update(task)
            wf.refresh_timers()
            wf.do_engine_steps()

        ctx = self._context(instance, audit.TIMER)
        steps.add_instance_event(ctx, "timer_fired", {"due_at": timer.due_at.isoformat()}, element_id=timer.element_id)
        self._step(session, instance, workflow, action, ctx)
        audit.record(
            session,
            "timer.fire",
            actor=audit.TIMER,
            target=instance_target(instance.id),
            detail={
                "process_key": instance.process_key,
                "element_id": timer.element_id,
                "due_at": timer.due_at.isoformat(),
                "status": instance.status,
            },
        )
        return True

    def deliver_message(
        self, session: Session, instance: InstanceRow, task_id: uuid.UUID, name: str, payload, actor: str | None = None
    ) -> bool:
        """Give a waiting catch event (or receive task) its message; False if it no longer waits."""
        workflow = self._load_workflow(session, instance)
        start = trigger_for(workflow, task_id)  # an event sub-process's message start, or None
        task = workflow.get_task_from_id(task_id) if start is None else None
        if start is None and (task is None or not task.has_state(TaskState.WAITING)):
            self.workflows.stage(session, instance.id, instance.lock_version, workflow)
            return False
        ctx = self._context(instance, actor)
        steps.add_instance_event(
            ctx, "message_received", {"message": name}, element_id=(start or task.task_spec).bpmn_id
        )
        self._step(
            session,
            instance,
            workflow,
            lambda wf: deliver_to_trigger(wf, start, payload) if start else self.deliver_in_step(wf, task, payload),
            ctx,
        )
        return True

    @staticmethod
    def deliver_in_step(workflow: BpmnWorkflow, task, payload) -> None:
        definition = task.task_spec.event_definition
        if isinstance(payload, dict) and getattr(definition, "message_var", None) is None:
            task.data.update(payload)  # Camunda style: the payload's fields become variables
        correlations = {}
        for prop in definition.correlation_properties:
            try:  # each property is read from the payload: one it lacks is the sender's mistake, not a 500
                found = definition.calculate_correlations(workflow.script_engine, [prop], payload or {})
            except Exception as exc:
                field = f"payload.{prop.retrieval_expression}"
                raise InvalidInput(
                    f"the message '{definition.name}' correlates on '{prop.name}', read from "
                    f"{prop.retrieval_expression}; the payload does not give it",
                    {field: ["needed to correlate this message"]},
                ) from exc
            for key, values in found.items():
                correlations.setdefault(key, {}).update(values)
        workflow.catch(BpmnEvent(definition, payload, correlations))
        workflow.do_engine_steps()

    def instance_variables(self, session: Session, instance) -> dict:
        """The process data as the latest live tasks see it (all of it once completed)."""
        return self.instance_view(session, instance)[0]

    def instance_view(self, session: Session, instance) -> tuple[dict, list[str]]:
        """(variables, current activities) of an instance: the data its live tasks see (all of
        it once completed), and the elements that are ready, waiting, running or failed."""
        staged = self.workflows.take_staged(session, instance.id, instance.lock_version)
        workflow = staged or self._load_workflow(session, instance)
        try:
            live = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR | TaskState.STARTED)
            activities = list(dict.fromkeys(t.task_spec.bpmn_id for t in live if getattr(t.task_spec, "bpmn_id", None)))
            if workflow.completed:
                return dict(workflow.data), activities
            merged: dict = {}
            for task in live:
                merged.update(task.data)
            if not merged and workflow.last_task is not None:
                merged.update(workflow.last_task.data)
            return merged, activities
        finally:
            if staged is None:
                # Cached only if this transaction commits: the state it reflects may not.
                self.workflows.stage(session, instance.id, instance.lock_version, workflow)

    def definition_version(self, session: Session, definition_id: int) -> int:
        """The version number of a definition row (immutable, so cached)."""
        version = self.versions.get(definition_id)
        if version is None:
            version = self.versions[definition_id] = session.get(ProcessDefinition, definition_id).version
        return version

    def task_data(self, session: Session, instance, task_id: uuid.UUID) -> dict:
        """The data a task sees now (what its form starts from)."""
        workflow = self._load_workflow(session, instance)
        try:
            task = workflow.get_task_from_id(task_id)
            return dict(task.data) if task is not None else {}
        finally:
            self.workflows.stage(session, instance.id, instance.lock_version, workflow)

    # The step --------------------------------------------------------------------------
    @staticmethod
    def _context(instance: InstanceRow, actor: str | None, settled: frozenset = frozenset()) -> steps.StepContext:
        return steps.StepContext(instance.id, instance.process_key, clock.now(), actor, StepWrites(), settled)

    def _step(
        self,
        session: Session,
        instance: InstanceRow,
        workflow: BpmnWorkflow,
        action: Callable[[BpmnWorkflow], None],
        ctx: steps.StepContext,
        *,
        new: bool = False,
        user_actor: str | None = None,
        attempt: int = 1,
    ) -> None:
        before = steps.snapshot(workflow)
        waits_before = steps.waiting_events(workflow)
        failure = None
        # Service handlers write the records they act on in this step's transaction.
        workflow.atrium_session, workflow.atrium_actor, workflow.atrium_engine = session, ctx.actor, self
        workflow.atrium_started_by = instance.started_by
        try:
            action(workflow)
        except (SpiffWorkflowException, ServiceTaskFailed, ScriptTimeout) as exc:
            failure = self._failure_from(workflow, exc)
        finally:
            workflow.atrium_session = workflow.atrium_started_by = workflow.atrium_actor = workflow.atrium_engine = None
        ctx.now = clock.now()
        after = steps.snapshot(workflow)
        steps.write_history(ctx, after, before, user_task_actor=user_actor)
        form_ids = self._definition_specs(session, instance.definition_id)[2]
        try:
            steps.sync_user_tasks(ctx, after, before, self._evaluate, form_ids, _translations_reader(session))
        except (SpiffWorkflowException, ScriptTimeout, ValueError, TypeError) as exc:
            # A bad assignee or due-date expression: the task waits in error, the instance gets an incident.
            failure = failure or self._failure_from(workflow, exc)
            ctx.writes.new_tasks.clear()
            ctx.writes.new_candidates.clear()
            ctx.writes.new_notifications.clear()
            for task_id in after.ready_user_tasks.keys() - before.ready_user_tasks.keys():
                after.ready_user_tasks[task_id]._set_state(TaskState.ERROR)
        steps.sync_waits(ctx, waits_before, steps.waiting_events(workflow))
        if failure is not None:
            self._record_failure(ctx, instance, failure, attempt)
        elif workflow.completed:
            instance.status = COMPLETED
            instance.ended_at = ctx.now
            steps.add_instance_event(ctx, "instance_completed")
        elif any(task.state == TaskState.ERROR for task in after.tasks):
            instance.status = ERROR  # another branch still holds an open incident
        else:
            instance.status = ACTIVE
        self._save(session, instance, workflow, ctx, new=new)
        instance.opened_tasks = rows_as_written(ctx.writes.new_tasks, ctx.writes.new_candidates)

    def _save(
        self, session: Session, instance: InstanceRow, workflow: BpmnWorkflow, ctx: steps.StepContext, *, new: bool
    ) -> None:
        instance.updated_at = ctx.now
        try:
            saved = save_step(
                session, instance, new=new, state=state_to_bytes(workflow), writes=ctx.writes, now=ctx.now
            )
        except OperationalError as exc:
            if "locked" in str(exc).lower():
                raise Conflict("the process instance is busy; try again") from exc
            raise
        if not saved:
            raise Conflict(_CONFLICT)
        self.workflows.stage(session, instance.id, instance.lock_version, workflow)

    def _evaluate(self, task, expression: str):
        return self.script_engine.evaluate(task, expression)

    @staticmethod
    def _failure_from(workflow: BpmnWorkflow, exc: Exception) -> StepFailure:
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

    def _record_failure(
        self, ctx: steps.StepContext, instance: InstanceRow, failure: StepFailure, attempt: int
    ) -> None:
        if failure.service and attempt <= self.settings.service_retries:
            due = ctx.now + timedelta(seconds=self.settings.service_backoff_seconds * (2 ** (attempt - 1)))
            ctx.writes.new_timers.append(
                {
                    "kind": RETRY,
                    "instance_id": instance.id,
                    "definition_id": None,
                    "task_id": None,
                    "element_id": failure.element_id or "",
                    "due_at": due,
                    "cycle": {"attempt": attempt + 1},
                }
            )
            steps.add_instance_event(
                ctx,
                "service_retry_scheduled",
                {"message": failure.message, "attempt": attempt, "retry_at": due.isoformat()},
                element_id=failure.element_id,
            )
            instance.status = ACTIVE
            return
        ctx.writes.new_incidents.append(
            {
                "instance_id": instance.id,
                "element_id": failure.element_id,
                "element_name": failure.element_name,
                "message": failure.message,
                "attempts": attempt,
                "created_at": ctx.now,
                "resolved_at": None,
            }
        )
        steps.add_instance_event(ctx, "incident", {"message": failure.message}, element_id=failure.element_id)
        instance.status = ERROR
