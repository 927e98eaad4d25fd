"""Specs serialized once per definition version; instance state as small compressed JSON.

The state stored for an instance leaves out the spec (it lives on the definition row) and
keeps only the part of the task tree that can still matter: finished tasks above the
common ancestor of every live task are pruned after each step. History lives in the
history table, so a loop that runs a thousand times stores no more than one that runs once.

Process data is whatever people, scripts and handlers put there, and must read back as the plain
JSON it was: SpiffWorkflow revives any stored dict with a `typename` key as an object, so such a
dict of the process's is wrapped on the way out (see InstanceRegistry).
"""

from __future__ import annotations

import json
import zlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_STATE_VERSION
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

# The tag of a wrapped dict: one of the process's dicts that has a `typename` key of its own.
_PLAIN_DICT = "AtriumPlainDict"


class InstanceRegistry(DefaultRegistry):
    """SpiffWorkflow's registry, but a plain dict that holds a `typename` key is stored wrapped.

    Objects SpiffWorkflow converts reach `convert` as objects and leave it as tagged dicts; a dict
    that reaches it as a dict is data (task data, data objects, message payloads, internal data).
    Unwrapped, a user's `{"typename": "BpmnWorkflow"}` or `{"typename": "datetime", ...}` would be
    revived on load (or fail to be, making the instance unloadable)."""

    def __init__(self):
        super().__init__()
        self.convert_from_dict[_PLAIN_DICT] = self._unwrap

    def convert(self, obj, **kwargs):
        if isinstance(obj, dict) and "typename" in obj and obj.__class__ not in self.typenames:
            return {
                "typename": _PLAIN_DICT,
                "items": {k: self.convert(v, **kwargs) for k, v in self.clean(obj).items()},
            }
        return super().convert(obj, **kwargs)

    def _unwrap(self, dct, **_kwargs):
        # The values are restored (a datetime stored inside comes back a datetime); the dict itself is not.
        return {k: self.restore(v) for k, v in dct["items"].items()}


class InstanceTaskConverter(TaskConverter):
    """SpiffWorkflow leaves a task's data for the JSON encoder, past the registry; it goes through
    the registry here, so that its dicts are wrapped like the rest of the process's data."""

    def to_dict(self, task):
        dct = super().to_dict(task)
        dct["data"] = self.registry.convert(dct["data"])
        if dct["delta"]:
            dct["delta"]["updates"] = self.registry.convert(dct["delta"]["updates"])
        return dct


class InstanceStateConverter(BpmnWorkflowConverter):
    """BpmnWorkflow <-> dict without the spec; the caller supplies the (cached) spec on restore."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[BpmnWorkflow] = InstanceStateConverter
_config[Task] = InstanceTaskConverter
REGISTRY = BpmnWorkflowSerializer.configure(_config, InstanceRegistry())
# Beyond SpiffWorkflow's datetime, timedelta and UUID: dates and decimals (fees, amounts).
REGISTRY.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
REGISTRY.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
# Task data is left as is by the converters; the encoder turns dates and the like into
# typename-tagged dicts that REGISTRY.restore turns back.
_ENCODER = create_encoder(REGISTRY)
STORABLE_TYPES = (str, int, float, bool, type(None), datetime, date, timedelta, UUID, Decimal)


def unstorable(value, path: str = "") -> tuple[str, object] | None:
    """(path, value) of the first value inside `value` that task data cannot hold, or None."""
    if isinstance(value, STORABLE_TYPES):
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}[{key!r}]", key
            found = unstorable(item, f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = unstorable(item, f"{path}[{index}]")
            if found:
                return found
        return None
    return path or "(value)", value


_VERSION_KEY = "serializer_version"


def spec_to_json(spec, subprocess_specs: dict) -> str:
    return json.dumps(
        {
            "spec": REGISTRY.convert(spec),
            "subprocess_specs": {k: REGISTRY.convert(v) for k, v in subprocess_specs.items()},
        },
        separators=(",", ":"),
    )


def spec_from_json(text: str):
    dct = json.loads(text)
    spec = REGISTRY.restore(dct["spec"])
    subprocess_specs = {k: REGISTRY.restore(v) for k, v in dct["subprocess_specs"].items()}
    return spec, subprocess_specs


def state_to_bytes(workflow: BpmnWorkflow) -> bytes:
    prune_finished_tasks(workflow)
    dct = REGISTRY.convert(workflow)
    dct[_VERSION_KEY] = SPIFF_STATE_VERSION
    return zlib.compress(json.dumps(dct, cls=_ENCODER, separators=(",", ":")).encode(), 6)


def state_from_bytes(data: bytes, spec, subprocess_specs: dict) -> BpmnWorkflow:
    dct = json.loads(zlib.decompress(data))
    version = dct.pop(_VERSION_KEY, SPIFF_STATE_VERSION)
    if version in MIGRATIONS:
        MIGRATIONS[version](dct)
    return REGISTRY.restore(dct, spec=spec, subprocess_specs=subprocess_specs)


def prune_finished_tasks(workflow: BpmnWorkflow) -> int:
    """Drop finished tasks that no live task can reach back to; returns how many were dropped.

    Live tasks are those not completed or cancelled. Everything a live task may consult (its join's
    split, its boundary-event split, its subprocess) lies on its path from their deepest
    common ancestor, so that ancestor is re-attached directly under the root and the
    finished chain above it, with its finished side branches, is dropped.
    """
    root = workflow.task_tree
    # ERROR tasks count as live: a retry runs them again.
    live = [t for t in workflow.tasks.values() if not t.has_state(TaskState.COMPLETED | TaskState.CANCELLED)]
    if not live:
        return 0
    common = _common_ancestor(live)
    if common is None or common is root or common.parent is root:
        return 0
    keep = {t.id for t in _subtree(common)}
    keep.add(root.id)
    dropped = [tid for tid in workflow.tasks if tid not in keep]
    for tid in dropped:
        del workflow.tasks[tid]
        workflow.subprocesses.pop(tid, None)
    root._children = [common.id]
    common._parent = root.id
    # A task re-evaluated later inherits its parent's data (DeepMerge, parent wins); the
    # root must not hand the re-attached task stale values from the start of the instance.
    root.data = {}
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = common
    return len(dropped)


def _path_to_root(task) -> list:
    path = []
    while task is not None:
        path.append(task)
        task = task.parent
    return path[::-1]


def _common_ancestor(tasks):
    common = _path_to_root(tasks[0])
    for task in tasks[1:]:
        path = _path_to_root(task)
        n = 0
        while n < len(common) and n < len(path) and common[n] is path[n]:
            n += 1
        common = common[:n]
    return common[-1] if common else None


def _subtree(task):
    stack = [task]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)


def scrub_state(data: bytes) -> bytes:
    """A saved state with every task's and (sub)workflow's data emptied: what an erasure leaves of an
    ended instance. The tasks, their states and the path taken stay, so it still shows and counts."""
    dct = json.loads(zlib.decompress(data))
    _empty_data(dct)
    return zlib.compress(json.dumps(dct, separators=(",", ":")).encode(), 6)


def _empty_data(node) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("data", "internal_data", "correlations") and isinstance(value, dict):
                node[key] = {}
            else:
                _empty_data(value)
    elif isinstance(node, list):
        for value in node:
            _empty_data(value)
