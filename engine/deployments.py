"""Deploying definitions: versions per process key, forms, and the start events they register."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from atrium import audit, clock
from atrium.errors import DefinitionInvalid, Problem
from storage import definitions as definition_store
from storage.definitions import DecisionDefinition, Form, ProcessDefinition
from storage.messages import MessageSubscription
from storage.timers import START, Timer, delete_timer, postpone_timer
from storage.translations import save_translation

from .definitions import ParsedDecision, ParsedDeployment, SourceFile, parse_deployment
from .forms import FormFile
from .start_forms import begin_at
from .timers import next_cycle, start_timer_schedule


@dataclass
class DeployedDefinition:
    process_key: str
    version: int
    created: bool  # False when identical content was already deployed
    definition_id: int


@dataclass
class DeployResult:
    definitions: list[DeployedDefinition] = field(default_factory=list)
    forms: list[tuple[str, int, bool]] = field(default_factory=list)
    # (kind, name, locale, created): created is False when identical content was already deployed.
    translations: list[tuple[str, str, str, bool]] = field(default_factory=list)
    # (decision id, version, created)
    decisions: list[tuple[str, int, bool]] = field(default_factory=list)


def validate_files(engine, session: Session, files: list[SourceFile]) -> list[Problem]:
    """Every problem that would stop these files from deploying."""
    return _parse(engine, session, files).problems


def _parse(engine, session: Session, files: list[SourceFile]) -> ParsedDeployment:
    return parse_deployment(
        files,
        services=engine.services,
        form_exists=lambda name: definition_store.latest_form(session, name=name) is not None,
        deployed_process_xml=lambda key: getattr(
            definition_store.latest_definition(session, process_key=key), "bpmn_xml", None
        ),
        deployed_form_schema=lambda name: getattr(definition_store.latest_form(session, name=name), "schema", None),
    )


def deploy(engine, session: Session, files: list[SourceFile], *, actor: str | None = audit.SYSTEM) -> DeployResult:
    """Deploy all of `files` or nothing: raises DefinitionInvalid listing every problem. The deployment's
    audit row (deployment.create, by `actor`) names the files and what each made new."""
    parsed = _parse(engine, session, files)
    if parsed.problems:
        raise DefinitionInvalid(parsed.problems)
    result = DeployResult()
    now = clock.now()
    for form in parsed.forms:
        result.forms.append(_deploy_form(session, form, now))
    for process in parsed.processes:
        for name, schema in process.generated_forms.items():
            result.forms.append(_deploy_form(session, FormFile(name, schema, None), now))
        pinned = {
            element: definition_store.latest_form(session, name=name) for element, name in process.form_refs.items()
        }
        # The forms are part of what a version is: a changed form makes a new version.
        digest = hashlib.sha256(
            (process.content_hash + "".join(f"|{el}={f.content_hash}" for el, f in sorted(pinned.items()))).encode()
        ).hexdigest()
        latest = definition_store.latest_definition(session, process_key=process.key)
        if latest is not None and latest.content_hash == digest:
            result.definitions.append(DeployedDefinition(process.key, latest.version, False, latest.id))
            continue
        definition = ProcessDefinition(
            process_key=process.key,
            version=(latest.version + 1) if latest else 1,
            name=process.name,
            content_hash=digest,
            source_name=process.source_name,
            bpmn_xml=process.bpmn_xml,
            spec_json=process.spec_json,
            start_events=process.start_events,
            form_ids={element: form.id for element, form in pinned.items()},
            deployed_at=now,
        )
        session.add(definition)
        session.flush()
        engine.specs.put(definition.id, (process.spec, process.subprocess_specs, dict(definition.form_ids)))
        _register_start_events(engine, session, definition, previous=latest)
        result.definitions.append(DeployedDefinition(process.key, definition.version, True, definition.id))
    for decision in parsed.decisions:
        result.decisions.append(_deploy_decision(session, decision, now))
    for kind, file in parsed.translations:
        created = save_translation(
            session,
            kind=kind,
            name=file.name,
            locale=file.locale,
            content=file.content,
            content_hash=file.content_hash,
            now=now,
        )
        result.translations.append((kind, file.name, file.locale, created))
    audit.record(
        session,
        "deployment.create",
        actor=actor,
        target=("deployment:" + ", ".join(f.name for f in files)),
        detail={
            "created": [f"{d.process_key} v{d.version}" for d in result.definitions if d.created],
            "unchanged": [f"{d.process_key} v{d.version}" for d in result.definitions if not d.created],
            "forms": [f"{name} v{version}" for name, version, created in result.forms if created],
            "translations": [
                f"{kind} {name} {locale}" for kind, name, locale, created in result.translations if created
            ],
            "decisions": [f"{key} v{version}" for key, version, created in result.decisions if created],
        },
    )
    return result


def _deploy_form(session: Session, form: FormFile, now) -> tuple[str, int, bool]:
    latest = definition_store.latest_form(session, name=form.name)
    if latest is not None and latest.content_hash == form.content_hash:
        return form.name, latest.version, False
    version = (latest.version + 1) if latest else 1
    session.add(
        Form(
            name=form.name,
            version=version,
            content_hash=form.content_hash,
            schema=form.schema,
            ui_schema=form.ui_schema,
            deployed_at=now,
        )
    )
    session.flush()
    return form.name, version, True


def _deploy_decision(session: Session, decision: ParsedDecision, now) -> tuple[str, int, bool]:
    latest = definition_store.latest_decision(session, decision_key=decision.key)
    if latest is not None and latest.content_hash == decision.content_hash:
        return decision.key, latest.version, False
    version = (latest.version + 1) if latest else 1
    session.add(
        DecisionDefinition(
            decision_key=decision.key,
            version=version,
            name=decision.name,
            content_hash=decision.content_hash,
            source_name=decision.source_name,
            dmn_xml=decision.dmn_xml,
            deployed_at=now,
        )
    )
    session.flush()
    return decision.key, version, True


def _register_start_events(
    engine, session: Session, definition: ProcessDefinition, previous: ProcessDefinition | None
) -> None:
    """Only the newest version of a key listens for start timers and start messages."""
    older = list(
        session.scalars(
            select(ProcessDefinition.id).where(
                ProcessDefinition.process_key == definition.process_key, ProcessDefinition.id != definition.id
            )
        )
    )
    if older:
        session.execute(delete(Timer).where(Timer.definition_id.in_(older), Timer.kind == START))
        session.execute(delete(MessageSubscription).where(MessageSubscription.definition_id.in_(older)))
    for event in definition.start_events:
        if event["kind"] == "message":
            session.add(
                MessageSubscription(
                    message_name=event["message"], definition_id=definition.id, element_id=event["element_id"]
                )
            )
        elif event["kind"] == "timer":
            schedule = start_timer_schedule(event, lambda expr: engine.script_engine.environment.evaluate(expr, {}))
            if schedule is not None:
                due, cycle = schedule
                session.add(
                    Timer(
                        kind=START, definition_id=definition.id, element_id=event["element_id"], due_at=due, cycle=cycle
                    )
                )


def fire_start_timer(engine, session: Session, timer) -> None:
    """Start an instance for a due timer start event, and schedule the next cycle if any."""
    definition = session.get(ProcessDefinition, timer.definition_id)
    following = next_cycle(timer.due_at, timer.cycle)
    if following is None:
        delete_timer(session, timer_id=timer.id)
    else:
        postpone_timer(session, timer_id=timer.id, due_at=following[0], cycle=following[1])

    def trigger(workflow):
        begin_at(workflow, timer.element_id)
        for task in workflow.get_tasks(spec_name=timer.element_id, state=TaskState.WAITING):
            task._set_internal_data(event_fired=True)
            task.task_spec._update(task)
        workflow.do_engine_steps()

    # Its audit row is the start's (instance.start, actor timer).
    engine.start_from_definition(session, definition, {}, None, audit.TIMER, trigger)
