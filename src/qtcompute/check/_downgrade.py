"""Rewrite syntax newer than the running interpreter into syntax it parses, line for line.

Used only by ``_parse.py`` for files the running interpreter's parser rejects and LibCST accepts.
The rewritten code is never run or shown: it only has to keep the names, calls and lines the
rules look at. Inside an f-string or t-string the text is dropped and the expressions are kept.
"""

from __future__ import annotations

import libcst as cst


def _padding(lines: int) -> cst.SimpleString:
    return cst.SimpleString('"""' + "\n" * lines + '"""')


class Downgrade(cst.CSTTransformer):
    def __init__(self, tree: cst.Module) -> None:
        super().__init__()
        self.tree = tree

    def _newlines(self, node: cst.CSTNode) -> int:
        return self.tree.code_for_node(node).count("\n")

    def _as_tuple(self, original: cst.CSTNode, values: list[cst.BaseExpression]) -> cst.Tuple:
        """The values in parentheses, padded to span as many lines as ``original`` did."""
        candidate = cst.Tuple([cst.Element(v) for v in values] or [cst.Element(_padding(0))])
        missing = self._newlines(original) - self._newlines(candidate)
        if missing > 0:
            values = [*values, _padding(missing)]
            candidate = cst.Tuple([cst.Element(v) for v in values])
        return candidate

    # -- PEP 701 f-strings (3.12), PEP 750 t-strings (3.14) ----------------------------------

    def _string(self, original: cst.CSTNode, parts) -> cst.Tuple:
        values: list[cst.BaseExpression] = []
        pending = list(parts)
        while pending:
            part = pending.pop(0)
            expression = getattr(part, "expression", None)
            if expression is not None:
                values.append(expression)
                pending[:0] = list(part.format_spec or ())
        return self._as_tuple(original, values)

    def leave_FormattedString(self, original, updated):
        return self._string(original, updated.parts)

    def leave_TemplatedString(self, original, updated):
        return self._string(original, updated.parts)

    def visit_ConcatenatedString(self, node):
        return False  # its parts are rewritten in leave_: LibCST cannot rebuild it around a tuple

    def leave_ConcatenatedString(self, original, updated):
        parts: list[cst.BaseExpression] = []
        pending: list[cst.BaseExpression] = [original]
        while pending:
            part = pending.pop(0)
            if isinstance(part, cst.ConcatenatedString):
                pending[:0] = [part.left, part.right]
            else:
                parts.append(part if isinstance(part, cst.SimpleString) else part.visit(self))
        if all(isinstance(p, cst.SimpleString) for p in parts):
            return original
        return self._as_tuple(original, parts)

    # -- PEP 695 type parameters and aliases (3.12) ----------------------------------------------

    def leave_TypeAlias(self, original, updated):
        return cst.Assign([cst.AssignTarget(updated.name)], updated.value)

    def leave_FunctionDef(self, original, updated):
        return updated.with_changes(type_parameters=None)

    def leave_ClassDef(self, original, updated):
        return updated.with_changes(type_parameters=None)

    # -- PEP 758 (3.14), except* (3.11), lazy imports (3.15) ---------------------------------------

    def leave_ExceptHandler(self, original, updated):
        kind = updated.type
        if isinstance(kind, cst.Tuple) and not kind.lpar:
            return updated.with_changes(
                type=kind.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            )
        return updated

    def leave_ExceptStarHandler(self, original, updated):
        handler = cst.ExceptHandler(updated.body, type=updated.type, name=updated.name)
        return self.leave_ExceptHandler(original, handler)

    def leave_TryStar(self, original, updated):
        return cst.Try(updated.body, updated.handlers, updated.orelse, updated.finalbody)

    def leave_LazyImport(self, original, updated):
        return cst.Import(updated.names)

    def leave_LazyImportFrom(self, original, updated):
        return cst.ImportFrom(
            updated.module, updated.names, updated.relative, updated.lpar, updated.rpar
        )
