"""Decision tables evaluated outside a process: parsed by SpiffWorkflow's DMN parser, compiled once per
deployed version into one Python function, so a table can be applied to 100,000 rows of signals quickly.

SpiffWorkflow evaluates each cell as a Python expression through the script engine, a few hundred
microseconds a cell; the health score (atrium/health.py) runs its table for every client each night.
The cells such a table needs are simple, so only these are compiled (anything else is refused, naming
the rule and the cell):
- empty or `-`: any value;
- a comparison with a number: `< 3`, `<= 3`, `> 3`, `>= 3`, `== 3`, `!= 3`;
- a number or a quoted string alone: equal to it; `True` / `False`;
- a range with `?` for the value: `1 < ? <= 2` (each side `<` or `<=`).
Outputs are literals: a number or a quoted string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser

# Decisions the application evaluates with this compiler: a deployment of one of them is checked here,
# so an unsupported cell is refused at deploy time rather than at the nightly recompute.
COMPILED_DECISIONS = frozenset({"client_health"})

_NUMBER = r"-?\d+(?:\.\d+)?"
_STRING = r"\"[^\"\\]*\"|'[^'\\]*'"
_COMPARISON = re.compile(rf"^(<=|>=|<|>|==|!=)\s*({_NUMBER})$")
_RANGE = re.compile(rf"^({_NUMBER})\s*(<=|<)\s*\?\s*(<=|<)\s*({_NUMBER})$")
_LITERAL = re.compile(rf"^(?:{_NUMBER}|{_STRING}|True|False)$")


class UnsupportedCell(ValueError):
    """A cell the compiler cannot evaluate; the message names the rule and the column."""


@dataclass(frozen=True)
class CompiledRule:
    rule_id: str
    row: int
    description: str
    outputs: dict  # output name -> literal value


@dataclass(frozen=True)
class CompiledTable:
    decision_id: str
    hit_policy: str
    inputs: tuple[str, ...]  # each input's expression: the name of the value it reads
    rules: tuple[CompiledRule, ...]
    # values (a tuple in `inputs` order) -> indexes of the rules that match, in table order
    matches: object

    def evaluate(self, values: tuple) -> list[CompiledRule]:
        return [self.rules[i] for i in self.matches(values)]


def parse_decision(dmn_xml: str | bytes):
    """SpiffWorkflow's parsed Decision of a DMN document (its single decision)."""
    parser = BpmnDmnParser()
    root = etree.fromstring(dmn_xml.encode() if isinstance(dmn_xml, str) else dmn_xml)
    parser.add_dmn_xml(root)
    dmn_parser = next(iter(parser.dmn_parsers.values()))
    dmn_parser.parse()
    return dmn_parser.decision


def _test_source(cell: str | None, value: str, where: str) -> str | None:
    """The Python condition for one input cell on the variable `value`; None for "any"."""
    text = (cell or "").strip()
    if text in ("", "-"):
        return None
    if match := _COMPARISON.match(text):
        return f"({value} is not None and {value} {match.group(1)} {match.group(2)})"
    if match := _RANGE.match(text):
        low, op1, op2, high = match.groups()
        return f"({value} is not None and {low} {op1} {value} {op2} {high})"
    if _LITERAL.match(text):
        return f"{value} == {text}"
    raise UnsupportedCell(f"{where}: cannot evaluate '{text}' (supported: -, < 3, >= 3, 3, \"text\", 1 < ? <= 2)")


def _literal(text: str, where: str):
    text = (text or "").strip()
    if not _LITERAL.match(text):
        raise UnsupportedCell(f"{where}: the output '{text}' is not a number or a quoted string")
    return {"True": True, "False": False}.get(text) if text in ("True", "False") else eval(text, {"__builtins__": {}})  # noqa: S307 - a literal matched above


def compile_decision(decision) -> CompiledTable:
    """Compile SpiffWorkflow's Decision (its first table); raises UnsupportedCell naming the rule and cell."""
    table = decision.decisionTables[0]
    inputs = []
    for column in table.inputs:
        expression = (column.expression or "").strip()
        if not expression.isidentifier():
            raise UnsupportedCell(
                f"input '{column.label or column.id}': the expression must be a name, not '{expression}'"
            )
        inputs.append(expression)
    rules = []
    conditions = []
    for rule in table.rules:
        where = f"rule {rule.id} (row {rule.row_number})"
        tests = []
        for entry in rule.inputEntries:
            column = inputs[table.inputs.index(entry.input)]
            for cell in entry.lhs:
                source = _test_source(cell, f"v[{inputs.index(column)}]", f"{where}, input '{column}'")
                if source is not None:
                    tests.append(source)
        outputs = {
            (entry.output.name or entry.output.label): _literal(entry.text, f"{where}, output '{entry.output.name}'")
            for entry in rule.outputEntries
        }
        rules.append(CompiledRule(rule.id, rule.row_number, rule.description or "", outputs))
        conditions.append(" and ".join(tests) or "True")
    # One function of the whole table: the tests were built above only from numbers, quoted strings and
    # comparison operators the patterns allow, so the source holds nothing a person wrote as code.
    body = "\n".join(f"    if {condition}:\n        hits.append({index})" for index, condition in enumerate(conditions))
    source = f"def matches(v):\n    hits = []\n{body}\n    return hits\n"
    scope: dict = {}
    exec(compile(source, f"<decision {decision.id}>", "exec"), {"__builtins__": {}}, scope)  # noqa: S102
    return CompiledTable(decision.id, table.hit_policy, tuple(inputs), tuple(rules), scope["matches"])


def compile_problems(dmn_xml: str | bytes) -> list[str]:
    """Why a DMN document cannot be compiled (empty when it can)."""
    try:
        compile_decision(parse_decision(dmn_xml))
    except UnsupportedCell as exc:
        return [str(exc)]
    return []
