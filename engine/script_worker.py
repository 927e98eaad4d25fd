"""The script worker: runs restricted scripts and expressions in a separate, locked-down process.

The server starts this file with a fresh interpreter (`python -I engine/script_worker.py CONFIG`,
never a fork of itself), so the worker holds none of the server's memory, secrets or
database connections. It imports only the standard library and RestrictedPython, warms up,
then locks itself down before it reads the first request: when started as root it chroots
into its (empty) working directory and becomes nobody; in every case it sets resource limits
(address space, CPU time, no files written, no new processes, no file descriptors beyond the
pipes) and, where the kernel allows, a network namespace with no way out. The server kills
it at the deadline if a long C call outruns the in-script check.

Protocol: one JSON line per request on stdin, one per answer on stdout, with a tagged
encoding for the values process data may hold (`encode`/`decode`, shared with the server).
Scripts see plain functions and a few classes only, never a module.

This module is also imported by the server (engine.scripting, engine.script_pool) for the
compile policy and the codec, so it must stay free of the server's packages.
"""

from __future__ import annotations

import ast
import json
import operator
import os
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from types import ModuleType
from uuid import UUID

from RestrictedPython import RestrictingNodeTransformer, compile_restricted
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)


class ScriptTimeout(Exception):
    """A script or expression ran past its time budget."""


# Compiling ----------------------------------------------------------------------------------
class AtriumPolicy(RestrictingNodeTransformer):
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
    return compile_restricted(source, "<script>", "exec", policy=AtriumPolicy)


@lru_cache(maxsize=4096)
def compile_expression(source: str):
    return compile_restricted(source.strip(), "<expression>", "eval", policy=AtriumPolicy)


def syntax_message(exc: SyntaxError) -> str:
    """RestrictedPython packs its messages in a tuple; make one readable line."""
    messages = exc.args[0] if exc.args and isinstance(exc.args[0], tuple) else exc.args
    return "; ".join(str(m) for m in messages if m) or str(exc)


def names_in(code) -> frozenset[str]:
    """Every name a compiled script or expression (and its nested functions) can refer to.

    Scripts reach process data only by name (there is no globals() or vars()), so these are
    the only variables worth sending to the worker, and the only ones a script can change."""
    names: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names, current.co_varnames, current.co_cellvars, current.co_freevars)
        stack.extend(c for c in current.co_consts if hasattr(c, "co_names"))
    return frozenset(names)


# The codec ----------------------------------------------------------------------------------
# JSON plus tags for what process data may hold. A dict whose keys are not all strings, or
# that has a "$t" key of its own, is sent as tagged pairs so no user data looks like a tag.
TAG = "$t"


class Opaque:
    """Stands for a value the codec cannot carry (a function, a set inside stored data...);
    it keeps the type's name so the server can say what the script left behind."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str):
        self.type_name = str(type_name)[:100]

    def __repr__(self):
        return f"<{self.type_name}>"


_PLAIN = frozenset({str, int, float, bool, type(None)})


def encode(value):
    """A JSON-able form of `value`; anything unknown becomes a tagged opaque marker."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        plain = TAG not in value
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                plain = False
                break
            out[k] = v if type(v) in _PLAIN else encode(v)
        if plain:
            return out
        return {TAG: "dict", "v": [[encode(k), encode(v)] for k, v in value.items()]}
    if kind is list or kind is tuple:
        return [v if type(v) in _PLAIN else encode(v) for v in value]
    if isinstance(value, (bool, int, float, str)):  # subclasses, such as an IntEnum
        return value
    if isinstance(value, dict):
        return encode(dict(value))
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Decimal):
        return {TAG: "decimal", "v": str(value)}
    if isinstance(value, UUID):
        return {TAG: "uuid", "v": str(value)}
    if isinstance(value, (set, frozenset)):
        return {TAG: "set", "v": [encode(v) for v in value]}
    if isinstance(value, Opaque):
        return {TAG: "opaque", "v": value.type_name}
    return {TAG: "opaque", "v": type(value).__name__}


def _decode_tagged(obj: dict):
    tag = obj.get(TAG)
    if tag is None:
        return obj
    v = obj["v"]
    if tag == "datetime":
        return datetime.fromisoformat(v)
    if tag == "date":
        return date.fromisoformat(v)
    if tag == "timedelta":
        days, seconds, microseconds = v
        return timedelta(days=days, seconds=seconds, microseconds=microseconds)
    if tag == "decimal":
        return Decimal(v)
    if tag == "uuid":
        return UUID(v)
    if tag == "set":
        return set(v)
    if tag == "dict":
        return {k: item for k, item in v}
    if tag == "opaque":
        return Opaque(v)
    raise ValueError(f"unknown tag {tag!r}")


def dumps(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def loads(line: bytes):
    """Decode one line; raises ValueError (or another Exception) for anything malformed."""
    return json.loads(line, object_hook=_decode_tagged)


# What scripts see ---------------------------------------------------------------------------
def _guarded_getattr(obj, name, default=None):
    """RestrictedPython's safer getattr (no `_` names, no str.format, no frames), and never a module."""
    value = safer_getattr(obj, name, default)
    if isinstance(value, ModuleType):
        raise AttributeError(f'"{name}" is a module, which scripts cannot use')
    return value


_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "|=": operator.ior,
    "&=": operator.iand,
    "^=": operator.ixor,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
}


def _inplace(op, x, y):
    return _INPLACE[op](x, y)


# Plain values, functions and a few classes; no module, nothing that reads or writes outside
# the script (no open, getattr, setattr, type, id, vars...).
_BUILTINS = {
    "None": None,
    "True": True,
    "False": False,
    "bool": bool,
    "int": int,
    "float": float,
    "complex": complex,
    "str": str,
    "list": list,
    "dict": dict,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "range": range,
    "slice": slice,
    "abs": abs,
    "all": all,
    "any": any,
    "callable": callable,
    "chr": chr,
    "divmod": divmod,
    "enumerate": enumerate,
    "filter": filter,
    "hex": hex,
    "isinstance": isinstance,
    "len": len,
    "map": map,
    "max": max,
    "min": min,
    "oct": oct,
    "ord": ord,
    "pow": pow,
    "repr": repr,
    "reversed": reversed,
    "round": round,
    "sorted": sorted,
    "sum": sum,
    "zip": zip,
    "date": date,
    "datetime": datetime,
    "timedelta": timedelta,
    "timezone": timezone,
}
for _exception in (
    ArithmeticError,
    AssertionError,
    AttributeError,
    Exception,
    IndexError,
    KeyError,
    LookupError,
    NameError,
    OverflowError,
    RuntimeError,
    StopIteration,
    TypeError,
    ValueError,
    ZeroDivisionError,
):
    _BUILTINS[_exception.__name__] = _exception


class _Printer:
    """Swallows print() output; scripts have no console."""

    def __init__(self, _getattr_=None):
        self.lines = []

    def _call_print(self, *objects, **kwargs):
        self.lines.append(" ".join(str(o) for o in objects))

    def __call__(self):
        return "\n".join(self.lines)


# Names the guards add to a script's globals; never taken back as process data.
GUARD_NAMES = frozenset(
    {
        "__builtins__",
        "_getattr_",
        "_getitem_",
        "_getiter_",
        "_write_",
        "_inplacevar_",
        "_iter_unpack_sequence_",
        "_unpack_sequence_",
        "_print_",
        "_deadline_",
        "__name__",
        "now",
    }
)


def script_globals(now: datetime, deadline: float, timeout: float) -> dict:
    """The globals a script or expression runs with: guards, builtins and `now()`."""

    def check_deadline():
        if time.monotonic() > deadline:
            raise ScriptTimeout(f"script ran longer than {timeout:g} s")

    def guarded_iter(obj):
        for item in obj:
            check_deadline()
            yield item

    def current_time():
        """The server's clock at the time of the call."""
        return now

    return {
        "__builtins__": _BUILTINS,
        "_getattr_": _guarded_getattr,
        "_getitem_": operator.getitem,
        "_getiter_": guarded_iter,
        "_write_": full_write_guard,
        "_inplacevar_": _inplace,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_print_": _Printer,
        "_deadline_": check_deadline,
        "__name__": "script",
        "now": current_time,
    }


# Running a request --------------------------------------------------------------------------
def run(request: dict) -> dict:
    """Evaluate or execute one request; the answer as a dict ready for `encode`.

    request: {"op": "eval"|"exec", "src": str, "data": {...}, "ext": {...}, "now": datetime,
              "timeout": seconds}
    answer:  {"value": v} for eval; {"data": {...}} for exec (the names the script may have
             touched, as they are after it); {"error": class name, "message": str} on failure.
    """
    timeout = float(request["timeout"])
    data, ext = request.get("data") or {}, request.get("ext") or {}
    try:
        if request["op"] == "eval":
            code = compile_expression(request["src"])
        else:
            code = compile_script(request["src"])
    except SyntaxError as exc:
        return {"error": "SyntaxError", "message": syntax_message(exc)}
    scope = script_globals(request.get("now"), time.monotonic() + timeout, timeout)
    scope.update(ext)
    scope.update(data)
    try:
        if request["op"] == "eval":
            return {"value": eval(code, scope)}
        exec(code, scope)
    except ScriptTimeout as exc:
        return {"error": "ScriptTimeout", "message": str(exc)}
    except MemoryError:
        return {"error": "MemoryError", "message": "the script used more memory than it may", "retire": True}
    except Exception as exc:
        return {"error": type(exc).__name__, "message": str(exc)[:2000] + _script_line(exc)}
    return {
        "data": {
            k: v for k, v in scope.items() if not callable(v) and (k in data or (k not in GUARD_NAMES and k not in ext))
        }
    }


def _script_line(exc: BaseException) -> str:
    """` (script line N)` for the innermost line of the script that raised, if any."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<script>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (script line {line})" if line else ""


def describe() -> dict:
    """What the worker runs as; lets the server (and the tests) check the lock-down."""
    return {
        "pid": os.getpid(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "cwd": _safe_cwd(),
        "environ": sorted(os.environ),
        "root": _SANDBOX.get("chroot", False),
        "network_isolated": _SANDBOX.get("network_isolated", False),
        "limits": _SANDBOX.get("limits", {}),
    }


def _safe_cwd():
    try:
        return os.getcwd()
    except OSError:
        return None


# Locking down -------------------------------------------------------------------------------
_SANDBOX: dict = {}
# Lifetime CPU budget; a worker past half of it retires after its answer and is replaced.
CPU_LIFETIME_SECONDS = 3600


def _warm_up() -> None:
    """Load everything a request may import lazily, before the file system goes away."""
    import _strptime  # noqa: F401  (datetime.strptime imports it on first use)

    now = datetime.now(timezone.utc)
    for op, src in (
        ("exec", "x = [i * 2 for i in range(3)]\nfor i in x:\n    y = str(i)\nprint(y)"),
        ("eval", "sorted({'a': 1}.items())"),
    ):
        loads(dumps(encode(run({"op": op, "src": src, "data": {"d": Decimal("1.5")}, "now": now, "timeout": 1}))))
    datetime.strptime("2026-01-01", "%Y-%m-%d")


CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000


def _isolate_network() -> bool:
    """Move into a network namespace of its own (only a loopback, down): no socket reaches
    the database or anything else. Root can; others need an unprivileged user namespace."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        flags = CLONE_NEWNET if os.getuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
        return libc.unshare(flags) == 0
    except Exception:  # no ctypes or no unshare: the other limits still hold
        return False


def lock_down(memory_mb: int) -> None:
    import resource

    _SANDBOX["network_isolated"] = _isolate_network()
    if os.getuid() == 0:
        # Root can confine the worker: an empty directory as its whole file system, then nobody.
        import grp
        import pwd

        try:
            user = pwd.getpwnam("nobody")
            try:
                group_id = grp.getgrnam("nogroup").gr_gid
            except KeyError:
                group_id = user.pw_gid
        except KeyError:
            user = None
        os.chroot(".")
        os.chdir("/")
        _SANDBOX["chroot"] = True
        if user is not None:
            os.setgroups([])
            os.setgid(group_id)
            os.setuid(user.pw_uid)
    used = int(time.process_time()) + 1
    limits = {
        "RLIMIT_AS": memory_mb * 1024 * 1024,
        "RLIMIT_FSIZE": 0,
        "RLIMIT_CORE": 0,
        "RLIMIT_NOFILE": 3,
        "RLIMIT_NPROC": 0,
    }
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))
    resource.setrlimit(resource.RLIMIT_CPU, (used + 10, used + CPU_LIFETIME_SECONDS))
    _SANDBOX["limits"] = {**limits, "RLIMIT_CPU": used + CPU_LIFETIME_SECONDS}


def _set_cpu_budget(timeout: float) -> None:
    """Per request: the CPU time the process may reach before the kernel stops it (a backstop
    should the server fail to kill it at the deadline)."""
    import resource

    soft = int(time.process_time() + timeout) + 2
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    resource.setrlimit(resource.RLIMIT_CPU, (min(soft, hard), hard))


def main() -> None:
    config = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    out = sys.stdout.buffer
    try:
        _warm_up()
        lock_down(int(config.get("memory_mb", 256)))
    except Exception as exc:  # tell the server why, then stop
        out.write(dumps({"fatal": f"{type(exc).__name__}: {exc}"}))
        out.flush()
        return
    out.write(dumps({"ready": describe()}))
    out.flush()
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return
        answer: dict = {}
        try:
            request = loads(line)
            answer["n"] = request.get("n")
            if request["op"] == "describe":
                answer["value"] = describe()
            else:
                _set_cpu_budget(float(request["timeout"]))
                answer.update(run(request))
            if time.process_time() > CPU_LIFETIME_SECONDS / 2:
                answer["retire"] = True
            encoded = dumps(encode(answer))
        except MemoryError:
            answer = {
                "n": answer.get("n"),
                "error": "MemoryError",
                "message": "the script used more memory than it may",
                "retire": True,
            }
            encoded = dumps(answer)
        except Exception as exc:  # an answer that cannot be encoded, say an int of 5000 digits
            answer = {"n": answer.get("n"), "error": type(exc).__name__, "message": str(exc)[:2000]}
            encoded = dumps(answer)
        out.write(encoded)
        out.flush()
        if answer.get("retire"):
            return


if __name__ == "__main__":
    main()
