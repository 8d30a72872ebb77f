"""Public seams, not private reach-ins: no module outside fastnn/model.py uses Network's private members."""
import ast
from pathlib import Path

import fastnn
from fastnn.model import Network

ROOT = Path(__file__).resolve().parent.parent


def private_members(cls):
    """Underscore names (not dunder) that cls defines or that its __init__ assigns on self."""
    names = {n for n in vars(cls) if n.startswith("_") and not n.startswith("__")}
    net = cls([2, 2], seed=0)
    names |= {n for n in vars(net) if n.startswith("_") and not n.startswith("__")}
    return names


def reach_ins(path, names):
    """(line, attribute) of every ``something._name`` in the file with _name in names, except
    ``self._name`` and ``cls._name``: a class's own members that happen to share a name."""
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    return [(node.lineno, node.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in names
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))]


def test_the_scanner_finds_a_reach_in(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(net):\n    return net._cost + 1\n\n\nclass A:\n    def g(self):\n        return self._cost\n")
    assert reach_ins(bad, {"_cost"}) == [(2, "_cost")]


def test_no_module_outside_model_uses_a_private_member_of_network():
    names = private_members(Network)
    assert {"_cost", "_w_off", "_hidden"} <= names  # the scanner looks for the real ones
    found = []
    for folder in ("fastnn", "kernels", "bench", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == Path(fastnn.model.__file__).resolve():
                continue
            found += [f"{path.relative_to(ROOT)}:{line}: .{attr}" for line, attr in reach_ins(path, names)]
    assert not found, "private members of Network used outside model.py:\n" + "\n".join(found)
