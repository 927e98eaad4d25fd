"""Checks of a BPMN file's structure that SpiffWorkflow's parser does not make, or makes with messages that
name a Python exception instead of the element at fault. Each problem names the file, line and element."""

from __future__ import annotations

import re

from atrium.errors import Problem

from .dialects import BPMN_NS

_B = f"{{{BPMN_NS}}}"
_SCOPES = ("process", "subProcess", "transaction", "adHocSubProcess")
_GATEWAYS = ("exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway")
# Event definition -> (its reference attribute, the root element it names, whether it may be left out).
_REFERENCES = {
    "messageEventDefinition": ("messageRef", "message", False),
    "signalEventDefinition": ("signalRef", "signal", False),
    "errorEventDefinition": ("errorRef", "error", True),
    "escalationEventDefinition": ("escalationRef", "escalation", True),
}
_NOT_FLOW_NODES = (
    "sequenceFlow",
    "laneSet",
    "dataObject",
    "dataObjectReference",
    "dataStoreReference",
    "textAnnotation",
    "association",
    "group",
    "ioSpecification",
    "property",
    "extensionElements",
    "documentation",
)


def _local(element) -> str:
    return element.tag[len(_B) :] if isinstance(element.tag, str) and element.tag.startswith(_B) else ""


def structure_problems(root, filename: str) -> list[Problem]:
    problems: list[Problem] = []

    def add(element, message):
        problems.append(Problem(filename, element.sourceline, element.get("id"), message))

    for scope in root.iter(*(f"{_B}{tag}" for tag in _SCOPES)):
        nodes = {
            child.get("id"): child
            for child in scope
            if _local(child) and _local(child) not in _NOT_FLOW_NODES and child.get("id")
        }
        for flow in scope.findall(f"{_B}sequenceFlow"):
            for end in ("sourceRef", "targetRef"):
                if flow.get(end) not in nodes:
                    add(flow, f"{end} '{flow.get(end)}' names no element of {_local(scope)} '{scope.get('id')}'")
            source = nodes.get(flow.get("sourceRef"))
            if (
                source is not None
                and _local(source) not in _GATEWAYS
                and flow.find(f"{_B}conditionExpression") is not None
            ):
                add(
                    flow,
                    f"a condition on a flow out of '{source.get('id')}', which is not a gateway, is not "
                    "supported: put an exclusive or inclusive gateway after it and the condition on its flow",
                )
        for node in nodes.values():
            if node.get("default") and _local(node) not in _GATEWAYS:
                add(
                    node,
                    "a default flow out of an element that is not a gateway is not supported: "
                    "put an exclusive or inclusive gateway after it",
                )
    for tag, (attribute, target, optional) in _REFERENCES.items():
        known = {el.get("id") for el in root.iter(f"{_B}{target}")}
        for definition in root.iter(f"{_B}{tag}"):
            event = definition.getparent()
            reference = definition.get(attribute)
            if reference is None:
                if not optional:
                    add(event, f"its {tag} needs a {attribute} naming a bpmn:{target}")
            elif reference not in known:
                add(event, f"{attribute} '{reference}' names no bpmn:{target} in this file")
    return problems


def called_process_problems(roots: dict[str, object], process_ids: set[str]) -> list[Problem]:
    """Call activities whose called process is in none of the files deployed together."""
    problems = []
    for filename, root in roots.items():
        for call in root.iter(f"{_B}callActivity"):
            called = call.get("calledElement")
            if called and called not in process_ids:  # without calledElement the parser says so
                problems.append(
                    Problem(
                        filename,
                        call.sourceline,
                        call.get("id"),
                        f"calls process '{called}', which is in none of the files deployed "
                        "with it (deploy the file that defines it in the same deployment)",
                    )
                )
    return problems


_EXCEPTION_TEXT = re.compile(r"^\w+(Error|Exception)\(.*\)$", re.S)


def readable(message: str, tag: str | None) -> str:
    """A parser message that is only a Python exception's repr (`TypeError("...")`) says which element could not
    be read instead."""
    if _EXCEPTION_TEXT.match(message.strip()):
        what = f"this {tag}" if tag else "this element"
        return f"{what} cannot be read: it is incomplete or uses a construct the engine does not support"
    return message
