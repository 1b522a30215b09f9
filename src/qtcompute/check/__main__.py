"""``python -m qtcompute.check PATH...``: the same as ``qtcompute check``."""

from qtcompute.check._cli import check

check(prog_name="qtcompute check")
