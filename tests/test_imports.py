"""fastnn's import graph, read from the source with ast: no cycles, and kernels/ never imports the Python API.

Every import counts, those inside functions too: moving an import into a function does not
untie two modules, it only hides their cycle from Python until the function runs.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Package name -> its source folder; kernels/ installs as fastnn.kernels (pyproject.toml).
PACKAGES = {"fastnn": ROOT / "fastnn", "fastnn.kernels": ROOT / "kernels"}


def module_names(packages):
    """{module name: source file} for every .py file in the packages' folders (a package is its __init__.py)."""
    modules = {}
    for package, folder in packages.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


def imported(name, path, modules):
    """The absolute names of what module ``name`` (source at path) imports, anywhere in the file.

    Relative imports are resolved against the module's package; ``from p import y`` is an
    import of the module p.y when there is one, else of p itself (y is a name p defines).
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module
            if node.level:
                parts = package.split(".")
                if node.level > len(parts):
                    raise ValueError(f"{path}:{node.lineno}: relative import beyond the top-level package")
                base = ".".join(parts[:len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.add(sub if sub in modules else source)
    return found


def import_graph(modules):
    """{module: sorted list of the other modules of ``modules`` that it imports}."""
    return {name: sorted(m for m in imported(name, path, modules) if m in modules and m != name)
            for name, path in modules.items()}


def find_cycles(graph):
    """The import cycles of graph ({module: imported modules}), each as a list that starts and ends with
    its first name in sorted order, e.g. [a, b, a]: for every module in a group of mutually importing
    modules (a strongly connected component, Tarjan's algorithm), the shortest cycle through it."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph.get(v, ()):
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    cycles = set()
    for group in groups:
        for start in group:
            came_from, frontier = {start: None}, [start]
            while frontier:  # breadth first, inside the group, until an edge leads back to start
                v = frontier.pop(0)
                if start in graph[v]:
                    path = [v]
                    while came_from[path[-1]] is not None:
                        path.append(came_from[path[-1]])
                    path.reverse()
                    first = path.index(min(path))
                    cycles.add(tuple(path[first:] + path[:first + 1]))
                    break
                for w in graph[v]:
                    if w in group and w not in came_from:
                        came_from[w] = v
                        frontier.append(w)
    return sorted(map(list, cycles))


def test_find_cycles_names_the_cycle_of_a_small_graph():
    assert find_cycles({"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": [], "e": ["a"]}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": ["b", "c"], "b": ["c"], "c": [], "d": ["a"]}) == []
    assert find_cycles({"x": ["y"], "y": ["x"], "p": ["q", "r"], "q": ["r"], "r": ["p", "x"], "s": ["s"]}) == [
        ["p", "q", "r", "p"], ["p", "r", "p"], ["s", "s"], ["x", "y", "x"]]


def test_imports_resolve_to_submodules_and_count_inside_functions(tmp_path):
    files = {
        "__init__.py": "from .sub import thing\nimport pkg.sub.report\n",
        "helpers.py": "",
        "sub/__init__.py": "from .config import Config\n",
        "sub/config.py": "from .. import helpers\n",
        "sub/driver.py": "from . import config\nfrom .config import Config\n\n\ndef f():\n    from ..helpers import x\n",
        "sub/report.py": "from pkg.sub import config\n",
    }
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    modules = module_names({"pkg": tmp_path / "pkg"})
    graph = import_graph(modules)
    assert graph == {"pkg": ["pkg.sub", "pkg.sub.report"], "pkg.helpers": [], "pkg.sub": ["pkg.sub.config"],
                     "pkg.sub.config": ["pkg.helpers"],
                     "pkg.sub.driver": ["pkg.helpers", "pkg.sub.config"],
                     "pkg.sub.report": ["pkg.sub.config"]}
    assert find_cycles(graph) == []
    with open(tmp_path / "pkg" / "sub" / "config.py", "a") as f:  # a cycle hidden in a function
        f.write("\n\ndef g():\n    from .driver import f\n")
    assert find_cycles(import_graph(modules)) == [["pkg.sub.config", "pkg.sub.driver", "pkg.sub.config"]]


def test_the_graph_holds_the_kernels_under_their_installed_name():
    graph = import_graph(module_names(PACKAGES))
    assert "fastnn.kernels.sgd" in graph["fastnn.kernels"]
    assert "fastnn.kernels.sgd" in graph["fastnn.threads"] and "fastnn.kernels" in graph["fastnn.model"]


def test_fastnn_has_no_import_cycles():
    cycles = find_cycles(import_graph(module_names(PACKAGES)))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_kernels_never_import_the_python_api():
    modules = module_names(PACKAGES)
    kernels = [name for name in modules if name == "fastnn.kernels" or name.startswith("fastnn.kernels.")]
    api = [f"{name} imports {m}" for name in kernels for m in sorted(imported(name, modules[name], modules))
           if m.split(".")[0] == "fastnn" and not (m == "fastnn.kernels" or m.startswith("fastnn.kernels."))]
    assert kernels and not api, api


def test_only_fastnn_sklearn_imports_scikit_learn():
    # scikit-learn is an optional extra (fastnn[sklearn]): no other module may need it.
    modules = module_names(PACKAGES)
    users = sorted(name for name, path in modules.items()
                   if any(m.split(".")[0] == "sklearn" for m in imported(name, path, modules)))
    assert users == ["fastnn.sklearn"]
