"""Child interpreters of the engine tests follow the test's frame-count variant.

Some tests run a script in a child interpreter with this folder first on ``PYTHONPATH``
(``test_lifecycle.run_script``, the parent-killed script of ``test_shared_memory``), so Python
imports this module when the child starts. In the ``no-counts`` variant (see
``frame_count_axis``) the child's pools must run without frame counts as well: the switch is
turned off the moment the child imports ``qtcompute.engine._frame_counts``. Nothing is imported
here before that: a script's exit behaviour depends on when it imports qtcompute (its atexit
hooks run in reverse order of registration).

Without the variable this module does nothing, whoever has this folder on their path.
"""

from __future__ import annotations

import importlib.abc
import os
import sys

_SWITCH_MODULE = "qtcompute.engine._frame_counts"


class _FrameCountsOff(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader of the switch's module to turn it off."""

    def find_spec(self, name, path, target=None):
        if name != _SWITCH_MODULE:
            return None
        sys.meta_path.remove(self)  # once; and the finders below must not find us again
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_module_then_switch_off(module):
            exec_module(module)
            module.AVAILABLE = False

        spec.loader.exec_module = exec_module_then_switch_off
        return spec


if os.environ.get("QTCOMPUTE_TESTS_FRAME_COUNTS") == "off":
    sys.meta_path.insert(0, _FrameCountsOff())
