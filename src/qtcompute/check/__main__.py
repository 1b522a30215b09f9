"""``python -m qtcompute.check PATH...``: the same as ``qtcompute check``."""

from qtcompute.check._cli import check

if __name__ == "__main__":  # --jobs starts worker processes; they must not run the command again
    check(prog_name="qtcompute check")
