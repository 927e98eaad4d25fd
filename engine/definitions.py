"""Loading and validating BPMN, DMN and form files into deployable definitions.

Every problem is collected (XSD, parse and semantic checks) and reported as
`file:line: element-id: message`; one bad file rejects the whole set.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.MultiChoice import MultiChoice
from SpiffWorkflow.spiff.parser.process import VALIDATOR as SPIFF_XSD_VALIDATOR

from atrium.errors import Problem

from .bpmn_checks import called_process_problems, readable, structure_problems
from .decision_tables import COMPILED_DECISIONS, compile_problems
from .dialects import BPMN_NS, normalize_expressions
from .forms import FormFile, form_name, is_ui_schema_file, schema_problem
from .parser import AtriumParser
from .scripting import check_expression, check_script
from .serializer import spec_to_json
from .services import ServiceRegistry
from .subjects import template_problem
from .task_metadata import SUBJECT, form_reference, user_task_property
from .translations import (
    ProcessTexts,
    TranslationFile,
    form_translation_problems,
    load_translation_file,
    process_translation_problems,
    processes_in_bpmn,
    processes_in_xml,
    translation_file_parts,
)


@dataclass
class SourceFile:
    name: str
    content: bytes


@dataclass
class ParsedProcess:
    key: str
    name: str | None
    spec: object
    subprocess_specs: dict
    spec_json: str
    source_name: str
    bpmn_xml: str
    content_hash: str
    start_events: list[dict]
    generated_forms: dict[str, dict] = field(default_factory=dict)
    form_refs: dict[str, str] = field(default_factory=dict)  # user-task element id -> form name


@dataclass
class ParsedDecision:
    key: str
    name: str | None
    source_name: str
    dmn_xml: str
    content_hash: str


@dataclass
class ParsedDeployment:
    processes: list[ParsedProcess]
    forms: list[FormFile]
    problems: list[Problem]
    # (kind, file): "process" or "form" translations, checked against what they translate.
    translations: list[tuple[str, TranslationFile]] = field(default_factory=list)
    decisions: list[ParsedDecision] = field(default_factory=list)


def parse_deployment(
    files: list[SourceFile],
    *,
    services: ServiceRegistry,
    form_exists: Callable[[str], bool],
    deployed_process_xml: Callable[[str], str | None] = lambda key: None,
    deployed_form_schema: Callable[[str], dict | None] = lambda name: None,
) -> ParsedDeployment:
    """Parse and check `files`. A translation file may also translate a process or form deployed
    earlier: `deployed_process_xml(key)` and `deployed_form_schema(name)` give those."""
    problems: list[Problem] = []
    json_files = [f for f in files if f.name.lower().endswith((".json", ".form"))]
    translation_sources = [f for f in json_files if translation_file_parts(f.name)]
    forms = _load_forms([f for f in json_files if not translation_file_parts(f.name)], problems)
    form_names = {f.name for f in forms}
    bpmn_processes: dict[str, ProcessTexts] = {}

    parser = AtriumParser()
    lines: dict[str, dict[str, int]] = {}
    bpmn_sources: dict[str, bytes] = {}
    bpmn_roots: dict[str, object] = {}
    decisions: list[ParsedDecision] = []
    for source in files:
        lower = source.name.lower()
        if not lower.endswith((".bpmn", ".bpmn20.xml", ".dmn", ".xml")):
            continue
        root = _parse_xml(source, problems)
        if root is None:
            continue
        lines[source.name] = {
            el.get("id"): el.sourceline for el in root.iter() if isinstance(el.tag, str) and el.get("id")
        }
        is_dmn = etree.QName(root).localname == "definitions" and "/DMN/" in (etree.QName(root).namespace or "")
        try:
            if is_dmn:
                parser.add_dmn_xml(root, filename=source.name)
                decision = _decision(parser, root, source, lines[source.name], problems)
                if decision is not None:
                    decisions.append(decision)
            else:
                if not _xsd_valid(root, source.name, lines[source.name], problems):
                    continue
                found = structure_problems(root, source.name)
                if found:
                    problems.extend(found)
                    continue
                bpmn_roots[source.name] = root
                bpmn_processes.update(processes_in_bpmn(source.name, root))
                normalize_expressions(root)
                parser.add_bpmn_xml(root, filename=source.name)
                bpmn_sources[source.name] = source.content
        except ValidationException as exc:
            problems.append(_problem_from(exc, source.name, lines))
        except Exception as exc:  # a malformed file must be reported, never crash the deploy
            problems.append(Problem(source.name, None, None, f"cannot load: {exc}"))

    missing_calls = called_process_problems(bpmn_roots, set(parser.process_parsers))
    problems.extend(missing_calls)
    processes: list[ParsedProcess] = []
    for process_id, process_parser in list(parser.process_parsers.items()):
        filename = process_parser.filename
        if filename not in bpmn_sources or process_parser.node.get("isExecutable") == "false":
            continue
        try:
            spec = parser.get_spec(process_id)
            subprocess_specs = parser.get_subprocess_specs(process_id)
        except (ValidationException, SpiffWorkflowException) as exc:
            if not (missing_calls and "was not found" in str(exc)):  # reported at the call activity
                problems.append(_problem_from(exc, filename, lines))
            continue
        except Exception as exc:  # a parser failure: located at the process, never a bare Python error
            problems.append(
                Problem(
                    filename,
                    lines.get(filename, {}).get(process_id),
                    process_id,
                    f"cannot parse process: {readable(str(exc), None)}",
                )
            )
            continue
        file_problems = _check_specs(
            [spec, *subprocess_specs.values()],
            filename,
            lines.get(filename, {}),
            services,
            lambda name: name in form_names or form_exists(name),
        )
        problems.extend(file_problems)
        if file_problems:
            continue
        spec_json = spec_to_json(spec, subprocess_specs)
        digest = hashlib.sha256(bpmn_sources[filename] + spec_json.encode()).hexdigest()
        processes.append(
            ParsedProcess(
                key=process_id,
                name=process_parser.node.get("name") or process_id,
                spec=spec,
                subprocess_specs=subprocess_specs,
                spec_json=spec_json,
                source_name=filename,
                bpmn_xml=bpmn_sources[filename].decode("utf-8", errors="replace"),
                content_hash=digest,
                start_events=_start_events(spec),
                generated_forms=_generated_forms(process_id, [spec, *subprocess_specs.values()]),
                form_refs=_form_refs(process_id, [spec, *subprocess_specs.values()]),
            )
        )
    form_schemas = {f.name: f.schema for f in forms}
    for process in processes:
        form_schemas.update(process.generated_forms)
    translations = _check_translations(
        translation_sources, bpmn_processes, form_schemas, problems, deployed_process_xml, deployed_form_schema
    )
    # De-duplicate problems (an embedded subprocess is checked with each process using it).
    unique = list(dict.fromkeys(problems))
    return ParsedDeployment(
        processes=processes, forms=forms, problems=unique, translations=translations, decisions=decisions
    )


def _decision(
    parser, root, source: SourceFile, lines: dict[str, int], problems: list[Problem]
) -> ParsedDecision | None:
    """The decision a DMN file holds, stored with the deployment; one the application compiles itself
    (engine/decision_tables.py) must compile, or the deployment is refused naming the rule and cell."""
    decision_id = next(
        (el.get("id") for el in root if isinstance(el.tag, str) and etree.QName(el).localname == "decision"), None
    )
    if decision_id is None:
        return None
    if decision_id in COMPILED_DECISIONS:
        for message in compile_problems(source.content):
            problems.append(Problem(source.name, lines.get(decision_id), decision_id, message))
    decision = parser.dmn_parsers.get(decision_id)
    return ParsedDecision(
        key=decision_id,
        name=decision.get_name() if decision is not None else None,
        source_name=source.name,
        dmn_xml=source.content.decode("utf-8", errors="replace"),
        content_hash=hashlib.sha256(source.content).hexdigest(),
    )


def _check_translations(
    sources,
    processes: dict[str, ProcessTexts],
    forms: dict[str, dict],
    problems,
    deployed_process_xml,
    deployed_form_schema,
) -> list[tuple[str, TranslationFile]]:
    """Match each translation file to the process or form it translates (those in the deployment
    first, then deployed ones) and report keys that name nothing."""
    checked = []
    for source in sources:
        file = load_translation_file(source, problems)
        if file is None:
            continue
        in_forms_folder = "forms/" in source.name.replace("\\", "/")
        process = processes.get(file.name)
        schema = forms.get(file.name)
        if process is not None and schema is not None:
            process, schema = (None, schema) if in_forms_folder else (process, None)
        if process is None and schema is None:
            xml = None if in_forms_folder and deployed_form_schema(file.name) else deployed_process_xml(file.name)
            if xml:
                process = processes_in_xml(file.name, xml).get(file.name)
            else:
                schema = deployed_form_schema(file.name)
        if process is not None:
            found = process_translation_problems(file, process)
            kind = "process"
        elif schema is not None:
            found = form_translation_problems(file, schema)
            kind = "form"
        else:
            problems.append(
                Problem(
                    source.name, None, None, f"'{file.name}' names no process or form in this deployment or deployed"
                )
            )
            continue
        problems.extend(found)
        if not found:
            checked.append((kind, file))
    return checked


def _parse_xml(source: SourceFile, problems: list[Problem]):
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
        return etree.fromstring(source.content, parser)
    except etree.XMLSyntaxError as exc:
        problems.append(Problem(source.name, exc.lineno, None, f"not well-formed XML: {exc.msg}"))
        return None


def _xsd_valid(root, filename: str, ids_by_line: dict[str, int], problems: list[Problem]) -> bool:
    if root.tag != f"{{{BPMN_NS}}}definitions":
        problems.append(
            Problem(
                filename,
                root.sourceline,
                root.get("id"),
                "not a BPMN 2.0 file: the root element must be bpmn:definitions",
            )
        )
        return False
    schema = SPIFF_XSD_VALIDATOR.validator
    SPIFF_XSD_VALIDATOR.preprocess(root)
    if schema.validate(root):
        return True
    by_line = {line: element_id for element_id, line in ids_by_line.items()}
    for error in schema.error_log:
        message = error.message.replace(f"{{{BPMN_NS}}}", "bpmn:")
        problems.append(Problem(filename, error.line, by_line.get(error.line), f"schema: {message}"))
    return False


def _problem_from(exc: Exception, filename: str, lines: dict[str, dict[str, int]]) -> Problem:
    element_id = getattr(exc, "id", None) or None
    file = getattr(exc, "file_name", None) or filename
    line = getattr(exc, "line_number", None) or lines.get(file, {}).get(element_id)
    message = str(exc.args[0]) if exc.args else str(exc)
    return Problem(file, int(line) if line else None, element_id, readable(message, getattr(exc, "tag", None)))


def _check_specs(specs, filename, lines, services: ServiceRegistry, form_known) -> list[Problem]:
    problems: list[Problem] = []

    def add(task_spec, message):
        element_id = getattr(task_spec, "bpmn_id", None) or task_spec.name
        problems.append(Problem(filename, lines.get(element_id), element_id, message))

    for spec in specs:
        for task_spec in spec.task_specs.values():
            for label, script in (
                ("script", getattr(task_spec, "script", None) if isinstance(task_spec, ScriptTask) else None),
                ("pre-script", getattr(task_spec, "prescript", None)),
                ("post-script", getattr(task_spec, "postscript", None)),
            ):
                if script:
                    message = check_script(script)
                    if message:
                        add(task_spec, f"{label}: {message}")
            if isinstance(task_spec, MultiChoice):
                for condition, target in task_spec.cond_task_specs:
                    if condition is not None and condition.args:
                        message = check_expression(condition.args[0])
                        if message:
                            add(task_spec, f"condition to '{target}': {message}")
            event_definition = getattr(task_spec, "event_definition", None)
            if isinstance(event_definition, TimerEventDefinition):
                message = _timer_problem(event_definition)
                if message:
                    add(task_spec, message)
            if isinstance(task_spec, ServiceTask):
                operation = getattr(task_spec, "operation_name", None)
                if operation not in services:
                    add(
                        task_spec,
                        f"service task calls '{operation}', which is not a registered handler "
                        f"(known: {', '.join(services.names()) or 'none'})",
                    )
                for name, param in (getattr(task_spec, "operation_params", None) or {}).items():
                    message = check_expression(str(param.get("value")))
                    if message:
                        add(task_spec, f"parameter '{name}': {message}")
            if isinstance(task_spec, UserTask):
                subject = user_task_property(task_spec, SUBJECT)
                message = template_problem(subject) if subject is not None else None
                if message:
                    add(task_spec, f"subject: {message}")
                reference = form_reference(task_spec)
                if reference and not reference.startswith("generated:") and not form_known(form_name(reference)):
                    add(task_spec, f"form '{form_name(reference)}' not found in forms/ or in this deployment")
    return problems


def _timer_problem(definition: TimerEventDefinition) -> str | None:
    if not (definition.expression or "").strip():
        return "the timer has no date, duration or cycle"
    message = check_expression(definition.expression)
    if message:
        return f"timer expression: {message}"
    try:
        literal = ast.literal_eval(definition.expression.strip())
    except (ValueError, SyntaxError):
        return None  # computed at run time from process data
    try:
        if isinstance(definition, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(literal)
        else:
            TimerEventDefinition.parse_time_or_duration(literal)
    except Exception:
        return f"timer '{literal}' is not an ISO-8601 date, duration or repeating interval"
    return None


def _start_events(spec) -> list[dict]:
    events = []
    for task_spec in spec.task_specs.values():
        if not isinstance(task_spec, StartEvent):
            continue
        definition = task_spec.event_definition
        if isinstance(definition, TimerEventDefinition):
            events.append(
                {
                    "element_id": task_spec.bpmn_id,
                    "kind": "timer",
                    "timer": type(definition).__name__,
                    "expression": definition.expression,
                }
            )
        elif isinstance(definition, MessageEventDefinition):
            events.append({"element_id": task_spec.bpmn_id, "kind": "message", "message": definition.name})
    return events


def _generated_forms(process_key: str, specs) -> dict[str, dict]:
    forms = {}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            schema = (getattr(task_spec, "extensions", None) or {}).get("generatedForm")
            if schema:
                forms[f"{process_key}.{task_spec.bpmn_id}"] = schema
    return forms


def _form_refs(process_key: str, specs) -> dict[str, str]:
    refs = {}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            reference = form_reference(task_spec) if isinstance(task_spec, UserTask) else None
            if reference:
                refs[task_spec.bpmn_id] = (
                    f"{process_key}.{task_spec.bpmn_id}" if reference.startswith("generated:") else form_name(reference)
                )
    return refs


def _load_forms(files: list[SourceFile], problems: list[Problem]) -> list[FormFile]:
    schemas: dict[str, dict] = {}
    ui_schemas: dict[str, dict] = {}
    for source in files:
        try:
            document = json.loads(source.content)
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(Problem(source.name, getattr(exc, "lineno", None), None, f"not valid JSON: {exc}"))
            continue
        name = form_name(source.name)
        if is_ui_schema_file(source.name):
            ui_schemas[name] = document
            continue
        message = schema_problem(document)
        if message:
            problems.append(Problem(source.name, None, None, message))
            continue
        schemas[name] = document
    return [FormFile(name, schema, ui_schemas.get(name)) for name, schema in sorted(schemas.items())]
