"""The rules, one module each, in code order. ``RULES`` is what the runner applies."""

from __future__ import annotations

from qtcompute.check.rules import (
    qc001_import_time_start,
    qc002_missing_freeze_support,
    qc003_late_freeze_support,
    qc004_context_freeze_support,
    qc005_late_start_method,
    qc006_unpicklable_target,
    qc007_qt_object_to_process,
    qc008_blocking_wait_in_gui,
    qc009_swallowed_worker_errors,
    qc010_submit_call_result,
    qc011_loky_in_frozen_app,
    qc012_module_level_shared_state,
)
from qtcompute.check.rules._base import Hit, Rule

RULES: tuple[Rule, ...] = (
    qc001_import_time_start.RULE,
    qc002_missing_freeze_support.RULE,
    qc003_late_freeze_support.RULE,
    qc004_context_freeze_support.RULE,
    qc005_late_start_method.RULE,
    qc006_unpicklable_target.RULE,
    qc007_qt_object_to_process.RULE,
    qc008_blocking_wait_in_gui.RULE,
    qc009_swallowed_worker_errors.RULE,
    qc010_submit_call_result.RULE,
    qc011_loky_in_frozen_app.RULE,
    qc012_module_level_shared_state.RULE,
)
RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}

__all__ = ["RULES", "RULES_BY_CODE", "Hit", "Rule"]
