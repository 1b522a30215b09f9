# Runtime hook added by `qtcompute build` (qtcompute/freeze/_smoke.py): smoke mode, only when
# the verifier sets QTCOMPUTE_SMOKE. Otherwise one environment lookup, and the app runs as usual.
import os

if os.environ.get("QTCOMPUTE_SMOKE"):
    from qtcompute.freeze._smoke import activate

    activate()
