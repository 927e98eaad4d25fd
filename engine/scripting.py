"""Restricted Python for script tasks, conditions and expressions, run in a sandboxed worker.

RestrictedPython compiles the code with guards: no imports, no names or attributes that
start with an underscore, guarded item and attribute access, and a deadline check in every
loop iteration and function call. Scripts see plain functions and a few classes (date,
datetime, timedelta, timezone), never a module: `json.codecs.sys.modules['os']` is how a
script escaped when they did.

RestrictedPython is a filter, not a wall, so the code never runs in the server: it runs in
a worker process (engine/script_worker.py, pooled by engine/script_pool.py) started fresh
with no secrets in its environment, resource limits, and a kill at the deadline. A script
gets the variables it names and runs on copies of them; what it changed is written back
only when it succeeds: a failed script leaves the data as it was.
"""

from __future__ import annotations

import ast
import operator
import sys
from functools import lru_cache

from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from atrium import clock

from .script_pool import ScriptWorkerError, pool_for
from .script_worker import (
    _BUILTINS,
    Opaque,
    ScriptTimeout,
    compile_expression,
    compile_script,
    names_in,
    syntax_message,
)
from .serializer import unstorable

__all__ = [
    "RestrictedEnvironment",
    "ScriptError",
    "ScriptTimeout",
    "ScriptWorkerError",
    "check_expression",
    "check_script",
    "compile_expression",
    "compile_script",
    "syntax_message",
]

# What scripts can call by name: the worker's builtins, `now()`, and print (which RestrictedPython
# turns into a collector; scripts have no console).
SCRIPT_FUNCTIONS = frozenset(_BUILTINS) | {"now", "print"}


class ScriptError(Exception):
    """A script failed with an exception the server does not re-create by class."""


# Failures re-created with their own class, so incidents read as before ("ZeroDivisionError: ...").
_EXCEPTIONS = {
    e.__name__: e
    for e in (
        ArithmeticError,
        AssertionError,
        AttributeError,
        IndexError,
        KeyError,
        LookupError,
        MemoryError,
        NameError,
        NotImplementedError,
        OverflowError,
        RecursionError,
        RuntimeError,
        StopIteration,
        SyntaxError,
        TypeError,
        UnboundLocalError,
        UnicodeError,
        ValueError,
        ZeroDivisionError,
    )
}


def _failure(answer: dict) -> Exception:
    name, message = str(answer.get("error"))[:100], str(answer.get("message", ""))[:2000]
    if name == "ScriptTimeout":
        return ScriptTimeout(message)
    if name in _EXCEPTIONS:
        return _EXCEPTIONS[name](message)
    return ScriptError(f"{name}: {message}")


# Checks for `atrium validate` -------------------------------------------------------------
def _compile_problem(compile_fn, source: str) -> str | None:
    try:
        compile_fn(source)
    except SyntaxError as exc:
        return syntax_message(exc)
    return None


def check_script(source: str) -> str | None:
    """A message describing why the script can't run, or None."""
    return _compile_problem(compile_script, source) or _name_problem(source, "exec")


def check_expression(source: str) -> str | None:
    """A message describing why the expression can't be evaluated, or None."""
    return _compile_problem(compile_expression, source) or _name_problem(source.strip(), "eval")


# Module names a script is likelier to mean as the module than as a variable of that name.
_MODULE_NAMES = frozenset(
    {
        "os",
        "sys",
        "subprocess",
        "json",
        "math",
        "socket",
        "shutil",
        "pathlib",
        "builtins",
        "importlib",
        "io",
        "time",
        "random",
        "re",
        "pickle",
        "codecs",
        "ctypes",
        "decimal",
        "uuid",
        "statistics",
    }
)


def _names_a_module(name: str, attribute: str) -> bool:
    if name in _MODULE_NAMES:
        return True
    module = sys.modules.get(name) if name in sys.stdlib_module_names else None
    # A variable named like a module (`email`, say) is fine unless used as that module.
    return module is not None and hasattr(module, attribute)


def _name_problem(source: str, mode: str) -> str | None:
    """A name the code uses that cannot exist when it runs: a module, or a function scripts lack.

    Process data holds no modules and no functions, so `json.dumps(x)` or `sqrt(x)` in a
    script can only fail at run time; say so at deploy time instead."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError:
        return None
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            defined.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            defined.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            defined.update(node.names)
    problems = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id not in defined
            and node.value.id not in SCRIPT_FUNCTIONS
            and _names_a_module(node.value.id, node.attr)
        ):
            module = node.value.id
            problems.append(
                (node.lineno, f"names the module '{module}' ({module}.{node.attr}); scripts cannot use modules")
            )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id not in defined
            and node.func.id not in SCRIPT_FUNCTIONS
        ):
            problems.append((node.lineno, f"calls '{node.func.id}', which is not a function scripts can use"))
    if not problems:
        return None
    problems.sort()
    where = (lambda line: f"line {line}: ") if mode == "exec" else (lambda line: "")
    return "; ".join(f"{where(line)}{message}" for line, message in dict.fromkeys(problems))


@lru_cache(maxsize=4096)
def _names(op: str, source: str) -> frozenset[str]:
    return names_in(compile_expression(source) if op == "eval" else compile_script(source))


# Plain expressions ---------------------------------------------------------------------------
# Most expressions only compare variables with constants: `decision == "approve"`,
# `plan["active"]`, a DMN entry's `dmninputexpr < 10000`, an assignee `requester`. Those are
# evaluated here by a tiny interpreter that runs no code at all (no calls, no attributes: only
# lookups of process data and comparisons of its plain values), which spares the worker round
# trip for the most frequent case. Anything else goes to the worker.
_COMPARISONS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_PLAIN_NODES = (
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Compare,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.Not,
    ast.UnaryOp,
    ast.Subscript,
    ast.List,
    ast.Tuple,
    *_COMPARISONS,
)
_PLAIN_CONSTANTS = (str, int, float, bool, type(None))


@lru_cache(maxsize=4096)
def _plain(source: str) -> tuple[ast.expr, frozenset[str]] | None:
    """(tree, names) if the expression is only names, constants, lists of them, subscripts by a
    constant, comparisons and and/or/not; otherwise None."""
    try:
        tree = ast.parse(source.strip(), mode="eval").body
        nodes = list(ast.walk(tree))
    except (SyntaxError, RecursionError, ValueError):
        return None
    for node in nodes:
        if (
            not isinstance(node, _PLAIN_NODES)
            or (isinstance(node, ast.Constant) and type(node.value) not in _PLAIN_CONSTANTS)
            or (isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Constant))
            or (isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not))
            or (isinstance(node, ast.Name) and node.id.startswith("_"))
        ):
            return None
    return tree, frozenset(n.id for n in nodes if isinstance(n, ast.Name))


def _run_plain(node: ast.expr, scope: dict):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return scope[node.id]
    if isinstance(node, ast.Subscript):
        return _run_plain(node.value, scope)[node.slice.value]
    if isinstance(node, ast.UnaryOp):
        return not _run_plain(node.operand, scope)
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_run_plain(item, scope) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.BoolOp):
        value = None
        for operand in node.values:
            value = _run_plain(operand, scope)
            if bool(value) != isinstance(node.op, ast.And):
                return value
        return value
    left = _run_plain(node.left, scope)
    for op, comparator in zip(node.ops, node.comparators):
        right = _run_plain(comparator, scope)
        if not _COMPARISONS[type(op)](left, right):
            return False
        left = right
    return True


# The environment SpiffWorkflow calls ---------------------------------------------------------
class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """The SpiffWorkflow script environment used for every script, condition and expression."""

    def __init__(self, timeout_seconds: float = 2.0, *, memory_mb: int = 256, workers: int = 4):
        super().__init__({})
        self.timeout_seconds = timeout_seconds
        self.pool = pool_for(workers, memory_mb)

    def _call(self, op: str, source: str, context: dict, external_context: dict | None) -> tuple[dict, dict]:
        """Run `source` in a worker with the variables it names; (answer, the variables sent)."""
        names = _names(op, source)  # compiles here first: a SyntaxError needs no worker
        data = {k: v for k, v in context.items() if k in names}
        ext = {k: v for k, v in (external_context or {}).items() if k in names}
        request = {"op": op, "src": source, "data": data, "ext": ext, "timeout": self.timeout_seconds}
        if "now" in names:  # the server's clock at the time of the call (the injectable one)
            request["now"] = clock.now()
        answer = self.pool.call(request, self.timeout_seconds)
        if "error" in answer:
            raise _failure(answer)
        return answer, data

    def evaluate(self, expression, context, external_context=None):
        plain = _plain(expression)
        if plain is not None and all(name in context or name in (external_context or {}) for name in plain[1]):
            scope = {**(external_context or {}), **context}
            try:
                return _run_plain(plain[0], scope)
            except Exception as exc:  # raised as the worker would report it
                raise _failure({"error": type(exc).__name__, "message": str(exc)}) from None
        answer, _ = self._call("eval", expression, context, external_context)
        return answer.get("value")

    def execute(self, script, context, external_context=None):
        answer, sent = self._call("exec", script, context, external_context)
        result = answer.get("data")
        if not isinstance(result, dict) or not all(isinstance(k, str) for k in result):
            raise ScriptWorkerError("the script worker sent an unreadable answer")
        bad = unstorable(result)
        if bad:
            kind = bad[1].type_name if isinstance(bad[1], Opaque) else type(bad[1]).__name__
            raise TypeError(
                f"'{bad[0]}' is a {kind}, which process data cannot hold "
                "(use lists, dicts, strings, numbers, booleans, dates)"
            )
        kept = {k: v for k, v in context.items() if k not in sent}
        context.clear()
        context.update(kept)
        context.update(result)
        return True

    def call_service(self, context, **kwargs):
        raise NotImplementedError("service tasks are dispatched by engine.services")
