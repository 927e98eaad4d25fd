"""Restricted Python for script tasks, conditions and expressions.

RestrictedPython compiles the code with guards: no imports, no names or attributes that
start with an underscore, guarded item and attribute access. On top of that we inject a
deadline check into every loop iteration and function call, so a runaway script ends as
an incident instead of hanging a worker. A script runs on a copy of the task data, which
is written back only when it succeeds: a failed script leaves the data as it was.
"""
from __future__ import annotations

import ast
import copy
import json
import math
import operator
import time
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from RestrictedPython import RestrictingNodeTransformer, compile_restricted
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from RestrictedPython.Utilities import utility_builtins
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from atrium import clock

from .serializer import unstorable


class ScriptTimeout(Exception):
    """A script or expression ran past its time budget."""


class _AtriumPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: no imports, and a deadline check in loops and functions."""

    def visit_Import(self, node):
        self.error(node, "imports are not allowed in scripts")
        return node

    def visit_ImportFrom(self, node):
        self.error(node, "imports are not allowed in scripts")
        return node

    def _deadline_call(self, node) -> ast.stmt:
        call = ast.Expr(ast.Call(func=ast.Name("_deadline_", ast.Load()), args=[], keywords=[]))
        return ast.fix_missing_locations(ast.copy_location(call, node))

    def visit_While(self, node):
        node = super().visit_While(node)
        node.body.insert(0, self._deadline_call(node))
        return node

    def visit_FunctionDef(self, node):
        node = super().visit_FunctionDef(node)
        node.body.insert(0, self._deadline_call(node))
        return node


@lru_cache(maxsize=4096)
def compile_script(source: str):
    """Compile a script; raises SyntaxError naming the line for forbidden or invalid code."""
    return compile_restricted(source, "<script>", "exec", policy=_AtriumPolicy)


@lru_cache(maxsize=4096)
def compile_expression(source: str):
    return compile_restricted(source.strip(), "<expression>", "eval", policy=_AtriumPolicy)


def syntax_message(exc: SyntaxError) -> str:
    """RestrictedPython packs its messages in a tuple; make one readable line."""
    messages = exc.args[0] if exc.args and isinstance(exc.args[0], tuple) else exc.args
    return "; ".join(str(m) for m in messages if m) or str(exc)


def _compile_problem(compile_fn, source: str) -> str | None:
    try:
        compile_fn(source)
    except SyntaxError as exc:
        return syntax_message(exc)
    return None


def check_script(source: str) -> str | None:
    """A message describing why the script can't run, or None."""
    return _compile_problem(compile_script, source)


def check_expression(source: str) -> str | None:
    """A message describing why the expression can't be evaluated, or None."""
    return _compile_problem(compile_expression, source)


_INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "|=": operator.ior,
    "&=": operator.iand, "^=": operator.ixor, "<<=": operator.ilshift, ">>=": operator.irshift,
}

_SAFE_BUILTINS = {
    **safe_builtins,
    **utility_builtins,
    "list": list, "dict": dict, "set": set, "tuple": tuple, "range": range,
    "sum": sum, "min": min, "max": max, "any": any, "all": all, "sorted": sorted,
    "enumerate": enumerate, "zip": zip, "map": map, "filter": filter, "reversed": reversed,
    "round": round, "abs": abs, "len": len,
    "math": math, "json": json, "datetime": datetime, "date": date, "timedelta": timedelta,
    "timezone": timezone,
}
# Names our guards add to the globals; never copied back into task data.
_GUARD_NAMES = {
    "__builtins__", "_getattr_", "_getitem_", "_getiter_", "_write_", "_inplacevar_",
    "_iter_unpack_sequence_", "_unpack_sequence_", "_print_", "_deadline_", "_apply_", "__metadata__", "__name__",
}


class _Printer:
    """Swallows print() output; scripts have no console."""

    def __init__(self, _getattr_=None):
        self.lines = []

    def _call_print(self, *objects, **kwargs):
        self.lines.append(" ".join(str(o) for o in objects))

    def __call__(self):
        return "\n".join(self.lines)


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """The SpiffWorkflow script environment used for every script, condition and expression."""

    def __init__(self, timeout_seconds: float = 2.0, extra_globals: dict | None = None):
        super().__init__({"now": clock.now, **(extra_globals or {})})
        self.timeout_seconds = timeout_seconds

    def _guarded_globals(self) -> dict:
        deadline = time.monotonic() + self.timeout_seconds

        def check_deadline():
            if time.monotonic() > deadline:
                raise ScriptTimeout(f"script ran longer than {self.timeout_seconds:g} s")

        def guarded_iter(obj):
            for item in obj:
                check_deadline()
                yield item

        def inplace(op, x, y):
            return _INPLACE[op](x, y)

        return {
            "__builtins__": _SAFE_BUILTINS,
            "_getattr_": safer_getattr,
            "_getitem_": operator.getitem,
            "_getiter_": guarded_iter,
            "_write_": full_write_guard,
            "_inplacevar_": inplace,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_print_": _Printer,
            "_deadline_": check_deadline,
            "__name__": "script",
            **self.globals,
        }

    def evaluate(self, expression, context, external_context=None):
        code = compile_expression(expression)
        scope = self._guarded_globals()
        scope.update(external_context or {})
        scope.update(context)
        return eval(code, scope)

    def execute(self, script, context, external_context=None):
        code = compile_script(script)
        scope = self._guarded_globals()
        scope.update(external_context or {})
        scope.update(copy.deepcopy(context))
        exec(code, scope)
        skip = _GUARD_NAMES | set(self.globals) | set(external_context or {})
        result = {
            k: v for k, v in scope.items()
            if k not in skip and not callable(v) and not isinstance(v, type(math))
        }
        bad = unstorable(result)
        if bad:
            raise TypeError(f"'{bad[0]}' is a {type(bad[1]).__name__}, which process data cannot hold "
                            "(use lists, dicts, strings, numbers, booleans, dates)")
        context.clear()
        context.update(result)
        return True

    def call_service(self, context, **kwargs):
        raise NotImplementedError("service tasks are dispatched by engine.services")
