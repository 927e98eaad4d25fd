"""Camunda Modeler dialect: JUEL-style expressions, bare ISO-8601 timer literals and generated forms.

SpiffWorkflow evaluates every expression as Python. Camunda files write `${amount > 100 && vip}`
and `PT1H`; we rewrite them once, at load time, so the rest of the engine sees one dialect.
"""

from __future__ import annotations

import re

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"

_JUEL = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.S)
_ISO_LITERAL = re.compile(r"^\s*(R\d*/|P(?=\d|T)|\d{4}-\d{2}-\d{2})", re.I)
_EXPRESSION_TAGS = ("conditionExpression", "completionCondition", "loopCondition", "loopCardinality")
_TIMER_TAGS = ("timeDate", "timeDuration", "timeCycle")


def juel_to_python(text: str) -> str:
    """`${a && !b}` → `a and not b`; text without `${...}` is returned unchanged."""
    match = _JUEL.match(text)
    if not match:
        return text
    body = match.group("body")
    # Replace operators outside string literals only.
    parts = re.split(r"""("[^"]*"|'[^']*')""", body)
    for i in range(0, len(parts), 2):
        p = parts[i]
        p = p.replace("&&", " and ").replace("||", " or ")
        p = re.sub(r"!(?!=)", " not ", p)
        p = re.sub(r"\btrue\b", "True", p)
        p = re.sub(r"\bfalse\b", "False", p)
        p = re.sub(r"\bnull\b", "None", p)
        p = re.sub(r"\beq\b", "==", p)
        p = re.sub(r"\bne\b", "!=", p)
        p = re.sub(r"\bempty\s+(\w+)", r"not \1", p)
        parts[i] = p
    return " ".join("".join(parts).split()) if "\n" not in body else "".join(parts).strip()


def timer_to_python(text: str) -> str:
    """A timer definition as a Python expression: quote bare ISO literals, translate `${...}`."""
    if _JUEL.match(text):
        return juel_to_python(text)
    if _ISO_LITERAL.match(text):
        return repr(text.strip())
    return text.strip()


def value_to_python(text: str | None) -> str:
    """A Camunda attribute or parameter value: `${expr}` is an expression, anything else a literal."""
    if text is None:
        return "None"
    if _JUEL.match(text):
        return juel_to_python(text)
    return repr(text)


def normalize_expressions(root: etree._Element) -> None:
    """Rewrite Camunda-style conditions and timer definitions in place."""
    for tag in _EXPRESSION_TAGS:
        for node in root.iter(f"{{{BPMN_NS}}}{tag}"):
            if node.text:
                node.text = juel_to_python(node.text)
    for tag in _TIMER_TAGS:
        for node in root.iter(f"{{{BPMN_NS}}}{tag}"):
            if node.text:
                node.text = timer_to_python(node.text)


_CAMUNDA_TYPES = {
    "string": {"type": "string"},
    "long": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date-time"},
}


def form_data_schema(node: etree._Element, title: str | None) -> dict | None:
    """JSON Schema generated from a user task's `camunda:formData` fields, or None."""
    fields = node.findall(f".//{{{CAMUNDA_NS}}}formData/{{{CAMUNDA_NS}}}formField")
    if not fields:
        return None
    properties: dict[str, dict] = {}
    required: list[str] = []
    for field in fields:
        field_id = field.get("id")
        kind = field.get("type", "string")
        if kind == "enum":
            values = field.findall(f"{{{CAMUNDA_NS}}}value")
            prop = {"type": "string", "enum": [v.get("id") for v in values]}
            names = [v.get("name") or v.get("id") for v in values]
            prop["x-enum-labels"] = names
        else:
            prop = dict(_CAMUNDA_TYPES.get(kind, {"type": "string"}))
        if field.get("label"):
            prop["title"] = field.get("label")
        if field.get("defaultValue") is not None:
            prop["default"] = _coerce_default(field.get("defaultValue"), prop.get("type"))
        for constraint in field.findall(f"{{{CAMUNDA_NS}}}validation/{{{CAMUNDA_NS}}}constraint"):
            name, config = constraint.get("name"), constraint.get("config")
            if name == "required":
                required.append(field_id)
            elif name == "minlength" and config:
                prop["minLength"] = int(config)
            elif name == "maxlength" and config:
                prop["maxLength"] = int(config)
            elif name == "min" and config:
                prop["minimum"] = float(config)
            elif name == "max" and config:
                prop["maximum"] = float(config)
        properties[field_id] = prop
    schema = {"type": "object", "properties": properties}
    if title:
        schema["title"] = title
    if required:
        schema["required"] = required
    return schema


def _coerce_default(value: str, kind: str | None):
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "boolean":
        return value.lower() == "true"
    return value


def camunda_task_attributes(node: etree._Element) -> dict:
    """Camunda user-task attributes and properties, as raw strings (expressions are evaluated later)."""
    attrs = {}
    for name in ("assignee", "candidateGroups", "candidateUsers", "dueDate", "followUpDate", "priority", "formKey"):
        value = node.get(f"{{{CAMUNDA_NS}}}{name}")
        if value is not None:
            attrs[name] = value
    props = {
        p.get("name"): p.get("value")
        for p in node.findall(f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}properties/{{{CAMUNDA_NS}}}property")
    }
    if props:
        attrs["properties"] = props
    return attrs
