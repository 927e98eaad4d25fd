"""Every storage module imports on its own, in any order: none configures the mappers at import time
(the benchmark's spawned processes import them in an order no test process does)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import storage


def test_each_storage_module_imports_after_any_other():
    modules = [f"storage.{m.name}" for m in pkgutil.iter_modules(storage.__path__)]
    for first in modules:
        done = subprocess.run(
            [sys.executable, "-c", f"import {first}; " + "; ".join(f"import {m}" for m in modules)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"importing {first} first: {done.stderr.strip().splitlines()[-1]}"
