"""The script sandbox, as an attacker who can deploy a BPMN file sees it.

A deployed script once reached `os` through `json.codecs.sys.modules` and ran `id` as the
server with ATRIUM_SECRET_KEY in reach. Now scripts see no module, run in a separate worker
process with a scrubbed environment and resource limits, and one that runs too long or eats
memory becomes an incident.
"""

from __future__ import annotations

import builtins
import threading
import time
import types
import warnings
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from atrium.cli import main
from engine import script_worker
from engine.script_pool import WorkerPool
from engine.scripting import RestrictedEnvironment, ScriptTimeout
from storage.instances import open_incidents
from storage.tasks import open_tasks

from .conftest import BPMN_DIR, deploy_files

TIMEOUT = 0.5  # conftest's script_timeout_seconds


# (a) Nothing reachable from what a script sees is a module, a frame, `open` or a `__` path --
_DANGEROUS_BUILTINS = {
    id(getattr(builtins, name))
    for name in (
        "open",
        "eval",
        "exec",
        "compile",
        "__import__",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "breakpoint",
        "input",
        "help",
        "type",
        "object",
        "super",
        "memoryview",
        "dir",
    )
}
_DANGEROUS_TYPES = (
    types.ModuleType,
    types.FrameType,
    types.CodeType,
    types.TracebackType,
    types.FunctionType,
)  # a function would hand out its globals


def _values_a_script_can_make(scope):
    """Objects a script gets without any attribute access: literals, calls of what it sees, data."""
    now = scope["now"]

    def generator():
        yield 1

    return {
        "now()": now(),
        "1": 1,
        "1.5": 1.5,
        "1j": 1j,
        "'s'": "s",
        "b''": b"",
        "[]": [],
        "{}": {},
        "()": (),
        "set()": set(),
        "range(1)": range(1),
        "date.today()": date.today(),
        "timedelta(1)": timedelta(1),
        "timezone.utc": timezone.utc,
        "ValueError()": ValueError("x"),
        "(i for i in [])": (i for i in []),
        "generator()": generator(),
        "map(str, [])": map(str, []),
        "zip()": zip(),
        "enumerate([])": enumerate([]),
        "reversed([])": reversed([]),
        "slice(1)": slice(1),
        "iter({}.items())": iter({}.items()),
        "Decimal data": Decimal("1.5"),
        "UUID data": UUID(int=1),
        "datetime data": datetime(2026, 1, 5, 10, 0),
    }


def _walk(roots: dict, guard, depth: int = 3):
    """Every (path, object) reachable from `roots` through attribute access via `guard`,
    plus the `__` names the guard let through."""
    seen, keep, found, dunder = set(), [], [], []
    frontier = list(roots.items())
    for _ in range(depth + 1):
        following = []
        for path, obj in frontier:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            keep.append(obj)  # ids stay unique while the walk runs
            found.append((path, obj))
            for name in dir(obj):
                try:
                    value = guard(obj, name)
                except Exception:
                    continue
                if name.startswith("_"):
                    dunder.append(f"{path}.{name}")
                following.append((f"{path}.{name}", value))
        frontier = following
    return found, dunder


def test_nothing_a_script_can_reach_is_a_module_a_frame_or_open():
    scope = script_worker.script_globals(datetime(2026, 1, 5, 10, 0), time.monotonic() + 5, 5)
    visible = {name: value for name, value in scope.items() if not name.startswith("_")}
    visible.update(scope["__builtins__"])
    visible.update(_values_a_script_can_make(scope))
    found, dunder = _walk(visible, scope["_getattr_"])

    assert len(found) > 500  # the walk went somewhere
    assert dunder == []
    modules = [path for path, obj in found if isinstance(obj, _DANGEROUS_TYPES) and path != "now"]
    assert modules == []
    assert [path for path, obj in found if id(obj) in _DANGEROUS_BUILTINS] == []
    assert "open" not in visible and "json" not in visible and "math" not in visible
    # The script names underscore globals only through RestrictedPython's own rewriting.
    assert {name for name in scope if name.startswith("_")} <= script_worker.GUARD_NAMES


# (b) The escape that worked, and the classic ones, are refused --------------------------------
@pytest.mark.parametrize(
    "script, error",
    [
        ("x = json.codecs.sys.modules['os'].system('id')", NameError),  # the reported escape
        ("x = math.pi", NameError),
        ("x = string.Formatter().format('{0.__class__}', 1)", NameError),
        ("x = random.random()", NameError),
        ("x = ().__class__.__base__.__subclasses__()", SyntaxError),
        ("x = '{0.__class__}'.format(1)", NotImplementedError),
        ("x = str.format('{0.__class__.__mro__}', 1)", NotImplementedError),
        ("x = '{0.__class__}'.format_map({'0': 1})", NotImplementedError),
        ("x = getattr(1, '__class__')", NameError),
        ("x = type(1)", NameError),
        ("x = vars()", NameError),
        ("x = globals()", NameError),
        ("x = open('/etc/passwd').read()", NameError),
        ("x = eval('1')", SyntaxError),
        ("x = __import__('os')", SyntaxError),
        ("import os", SyntaxError),
        ("g = (i for i in [1])\nf = g.gi_frame.f_globals", SyntaxError),
        ("def f():\n    yield 1\nx = f().gi_frame", SyntaxError),
        ("x = now.__globals__", SyntaxError),
        ("x = datetime.now.__self__", SyntaxError),
        ("try:\n    1 / 0\nexcept Exception as e:\n    x = e.__traceback__.tb_frame", SyntaxError),
        ("class A:\n    pass", NameError),
    ],
)
def test_escapes_are_refused(script, error):
    data = {"figures": [1]}
    with pytest.raises(error):
        RestrictedEnvironment(timeout_seconds=2).execute(script, data)
    assert data == {"figures": [1]}


# (c) CPU- and memory-bound scripts become incidents within the limit ---------------------------
@pytest.mark.parametrize(
    "process_key, element_id, words",
    [
        ("cpu_hog", "spin", "longer than"),
        ("memory_hog", "blow_up", "MemoryError"),
        ("list_hog", "grow", "MemoryError"),
    ],
)
def test_a_hungry_script_becomes_an_incident_within_the_limit(process_engine, process_key, element_id, words):
    deploy_files(process_engine, "sandbox.bpmn")
    started = time.monotonic()
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(session, process_key=process_key)
    assert time.monotonic() - started < TIMEOUT + 3
    assert instance.status == "error"
    with process_engine.transaction() as session:
        [incident] = open_incidents(session, instance_id=instance.id)
    assert incident.element_id == element_id and words in incident.message
    # The next script gets a working worker (a killed one is replaced).
    assert RestrictedEnvironment(TIMEOUT).evaluate("sum(range(10))", {}) == 45


def test_a_long_c_call_is_killed_at_the_deadline():
    env = RestrictedEnvironment(timeout_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(ScriptTimeout, match="longer than 0.3 s"):
        env.execute("total = sum(range(3 * 10 ** 8))", {})
    assert time.monotonic() - started < 0.3 + 3


# (d) The worker has none of the server's secrets ---------------------------------------------
def test_a_worker_has_no_secrets_no_files_and_limits(monkeypatch):
    monkeypatch.setenv("ATRIUM_SECRET_KEY", "server-secret-" + "x" * 32)
    monkeypatch.setenv("ATRIUM_DATABASE_URL", "postgresql://atrium:password@db/atrium")
    pool = WorkerPool(size=1, memory_mb=128)  # a fresh worker, started after the variables were set
    try:
        seen = pool.call({"op": "describe", "timeout": 5}, 5)["value"]
    finally:
        pool.close()
    assert seen["environ"] == ["LANG", "LC_ALL", "PATH"]
    limits = seen["limits"]
    assert limits["RLIMIT_AS"] == 128 * 2**20 and limits["RLIMIT_FSIZE"] == 0
    assert limits["RLIMIT_NOFILE"] == 3 and limits["RLIMIT_NPROC"] == 0
    import os

    assert seen["pid"] != os.getpid()
    if os.getuid() == 0:  # root confines it further: an empty root directory, and nobody
        assert seen["root"] is True and seen["cwd"] == "/" and seen["uid"] != 0


# (e) `atrium validate` names the module a script reaches for ---------------------------------
def test_validate_reports_a_script_that_names_a_module(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ATRIUM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["validate", str(BPMN_DIR / "module_script.bpmn")]) == 1
    out = capsys.readouterr().out
    assert (
        "module_script.bpmn:6: encode: script: line 1: names the module 'json' (json.dumps); "
        "scripts cannot use modules; line 2: names the module 'math' (math.sqrt)"
    ) in out
    assert "module_script.bpmn:11: route: condition to 'end': names the module 'os' (os.system)" in out
    assert "module_script.bpmn:16: shell: script: Line 1: imports are not allowed" in out


def test_validate_reports_a_call_of_a_function_scripts_lack_but_not_variables_named_like_modules():
    from engine.scripting import check_expression, check_script

    assert "calls 'sqrt'" in check_script("root = sqrt(area)")
    assert check_script("def sqrt(x):\n    return x ** 0.5\nroot = sqrt(area)") is None
    assert check_script("address = email.lower()\nn = len(address)") is None
    with warnings.catch_warnings():  # RestrictedPython warns that nothing reads what was printed
        warnings.simplefilter("ignore", SyntaxWarning)
        assert check_script("print(len(items))\nstamp = now() + timedelta(days=1)") is None
    assert check_expression("now() > due and decision == 'approve'") is None


# Behaviour kept: the clock, data types, copy-on-success, many threads ---------------------------
def test_now_is_the_servers_clock_at_call_time(process_engine, clock):
    deploy_files(process_engine, "sandbox.bpmn")
    with process_engine.transaction() as session:
        instance = process_engine.start_instance(session, process_key="stamp")
        [task] = open_tasks(session, instance_id=instance.id)
        variables = process_engine.instance_variables(session, instance)
    assert task.element_id == "on_time"
    assert variables["stamped"] == clock.now() and variables["due"] == date(2026, 1, 8)


def test_process_data_types_cross_to_the_worker_and_back_unchanged():
    data = {
        "fee": Decimal("1200.50"),
        "signed_on": date(2026, 3, 1),
        "due": datetime(2026, 3, 1, 9, tzinfo=timezone.utc),
        "window": timedelta(days=2, seconds=5),
        "ref": UUID(int=7),
        "pair": [1, "a", None, True, 1.5],
        "lookalike": {"$t": "uuid", "v": "not a uuid"},
        "nested": {"typename": "datetime", "value": "x"},
    }
    before = dict(data)
    RestrictedEnvironment().execute("fee = fee * 2\nlater = due + window\nsame = lookalike", data)
    assert data["fee"] == Decimal("2401.00") and data["later"] == datetime(2026, 3, 3, 9, 0, 5, tzinfo=timezone.utc)
    assert data["same"] == before["lookalike"] and data["nested"] == before["nested"] and data["ref"] == UUID(int=7)


@pytest.mark.parametrize(
    "expression, data",
    [
        ("decision == 'approve' and amount >= 100", {"decision": "approve", "amount": 100}),
        ("not plan['active'] or owner in ['ann', 'bob']", {"plan": {"active": True}, "owner": "bob"}),
        ("dmninputexpr < 10000", {"dmninputexpr": 12000}),
        ("'P14D'", {}),
        ("due is None", {"due": None}),
    ],
)
def test_plain_conditions_are_answered_in_the_server_exactly_as_the_worker_would(expression, data):
    from engine.scripting import _plain

    env = RestrictedEnvironment()
    assert _plain(expression) is not None
    assert (
        env.evaluate(expression, data)
        == env.pool.call({"op": "eval", "src": expression, "data": data, "ext": {}, "timeout": 2}, 2)["value"]
    )


@pytest.mark.parametrize(
    "expression",
    [
        "now() > due",
        "name.lower() == 'ann'",
        "items[0:1]",
        "len(items) > 2",
        "x + 1 > 2",
        "_secret == 1",
        "[i for i in items]",
        "amount > 10 ** 100",
    ],
)
def test_anything_beyond_names_constants_and_comparisons_goes_to_the_worker(expression):
    from engine.scripting import _plain

    assert _plain(expression) is None


def test_a_failing_script_names_its_line():
    with pytest.raises(ZeroDivisionError, match=r"division by zero \(script line 3\)"):
        RestrictedEnvironment().execute("total = 10\nparts = 0\nratio = total / parts", {})


def test_expressions_from_many_threads_share_the_pool():
    env = RestrictedEnvironment(timeout_seconds=5, workers=2)
    results, errors = {}, []

    def evaluate(n):
        try:
            results[n] = [env.evaluate("amount * 2 + bonus", {"amount": n, "bonus": i}) for i in range(20)]
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=evaluate, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == {n: [n * 2 + i for i in range(20)] for n in range(6)}
