"""Indicator formulas from YAML, parsed and evaluated without `eval`.

A formula is arithmetic over indicator codes: `+ - * /`, parentheses, numbers, and the
functions `min` and `max`. It is parsed once with `ast` and only those node types are
accepted, so a profile can never run code.
"""

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass

FUNCTIONS: dict[str, Callable[[list[float]], float]] = {"min": min, "max": max}
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,  # _eval answers None for a zero denominator before dividing
}


class FormulaError(ValueError):
    """The formula text is not an allowed expression."""


@dataclass(frozen=True)
class Formula:
    text: str
    tree: ast.expr
    names: frozenset[str]

    def evaluate(self, values: dict[str, float | None]) -> float | None:
        """The value, or None when a name is missing or a division has a zero denominator.

        None is the honest answer for a rate with nothing to divide by (a unit with no due
        cases has no closure rate), and it propagates through the rest of the expression.
        """
        return _eval(self.tree, values)


def parse(text: str) -> Formula:
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise FormulaError(f"cannot parse formula {text!r}: {exc.msg}") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in FUNCTIONS:
                names.add(node.id)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                raise FormulaError(f"only {', '.join(sorted(FUNCTIONS))}(…) may be called in {text!r}")
            if not node.args:
                raise FormulaError(f"{node.func.id}() needs arguments in {text!r}")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise FormulaError(f"operator {type(node.op).__name__} is not allowed in {text!r}")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise FormulaError(f"operator {type(node.op).__name__} is not allowed in {text!r}")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise FormulaError(f"only numbers may appear as constants in {text!r}")
        elif not isinstance(node, (ast.Load, ast.operator, ast.unaryop)):
            raise FormulaError(f"{type(node).__name__} is not allowed in {text!r}")
    return Formula(text=text, tree=tree, names=frozenset(names))


def _eval(node: ast.expr, values: dict[str, float | None]) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):  # parse() admits no other
        return float(node.value)
    if isinstance(node, ast.Name):
        value = values.get(node.id)
        return None if value is None else float(value)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values)
        return None if operand is None else (-operand if isinstance(node.op, ast.USub) else operand)
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, values), _eval(node.right, values)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Div):
            return None if right == 0 else left / right
        result = _BINARY[type(node.op)](left, right)
        return result if math.isfinite(result) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):  # parse() admits no other call
        args = [_eval(a, values) for a in node.args]
        numbers = [a for a in args if a is not None]
        return None if len(numbers) < len(args) else FUNCTIONS[node.func.id](numbers)
    raise FormulaError(f"unexpected {type(node).__name__}")  # parse() admits nothing else


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path for each cycle among formulas that use each other (`graph`: code -> names used)."""
    found: list[list[str]] = []
    done: set[str] = set()
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    if not done.intersection(trail):
                        found.append(trail + [start])
                        done.update(trail)
                elif nxt not in trail and nxt in graph:
                    stack.append((nxt, trail + [nxt]))
    return found
