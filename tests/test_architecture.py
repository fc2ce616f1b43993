"""The never-rules that keep the packages apart, checked on the import graph of ``followup/``.

Read from the source with :mod:`ast` (nothing is imported or run), counting imports inside
functions and under ``if TYPE_CHECKING:`` alike, except where a rule says otherwise. Each
rule is written down in docs/architecture.md; a failure names the module, the line and the
import that broke it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "followup"

#: the pure decisions: what to send when, how to read a reply, how to address and retry a
#: send, how many segments a text costs, what a clinic's settings and an import's rows may
#: hold, whether a clinic is open and when open time runs out. They get plain values and
#: return plain values.
PURE = (
    "followup.outbound.careplan",
    "followup.outbound.plan_types",
    "followup.outbound.regions",
    "followup.outbound.nudging",
    "followup.outbound.timing",
    "followup.outbound.schedule",
    "followup.inbound.triage",
    "followup.inbound.routing",
    "followup.access.secrets",
    "followup.access.fields",
    "followup.access.throttle",
    "followup.inbound.reading",
    "followup.inbound.offline_answer",
    "followup.texts.segments",
    "followup.texts.names",
    "followup.gateways.policy",
    "followup.intake.clinic_fields",
    "followup.intake.csv_rows",
    "followup.intake.fhir_encounters",
    "followup.intake.patient_fields",
    "followup.phones",
    "followup.hours",
    "followup.web.webhook_fields",
)
#: what a pure module may not import: databases, networks, servers, processes and threads
IMPURE = (
    "sqlalchemy",
    "psycopg",
    "sqlite3",
    "alembic",
    "twilio",
    "apprise",
    "httpx",
    "requests",
    "urllib.request",
    "socket",
    "starlette",
    "uvicorn",
    "apscheduler",
    "subprocess",
    "threading",
    "concurrent",
    "followup.store",
    "followup.gateways.twilio",
    "followup.gateways.console",
    "followup.web",
    "followup.cli",
    "followup.runtime",
    "followup.worker",
)
#: names from sqlalchemy a module outside the store may take: the types a session or a
#: connection is passed around with, never a statement builder
SQLALCHEMY_TYPES = {
    "sqlalchemy": {"Engine", "Connection"},
    "sqlalchemy.orm": {"Session", "sessionmaker"},
}
#: calls that run SQL on a session or connection
SQL_CALLS = {"execute", "exec_driver_sql", "scalar", "scalars", "query", "add_all", "merge"}

#: which top-level parts of ``followup`` each part may import; everything else is refused
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "log_privacy": set(),
    "phones": set(),
    "hours": set(),
    "spool": set(),
    #: health checks and metrics: read the store and the spool, count what others report
    "ops": {"ops", "store", "spool"},
    "access": {"access", "store"},
    "store": {"store"},
    "consent": {"store"},
    "retention": {"store"},
    "texts": {"texts"},
    "gateways": {"gateways", "phones", "texts"},
    "outbound": {
        "outbound", "consent", "store", "texts", "gateways", "phones", "staff.alerts",
        "ops.events",
    },
    "inbound": {
        "inbound", "consent", "store", "texts", "gateways", "phones", "hours", "staff", "spool",
    },
    "staff": {"staff", "store", "texts", "gateways", "phones", "hours", "ops.events"},
    "intake": {
        "intake", "store", "texts", "phones", "hours", "outbound.careplan", "outbound.regions",
    },
    "runtime": {"config", "store", "texts", "gateways", "staff", "inbound.reading"},
    "worker": {
        "runtime", "config", "store", "outbound", "inbound", "staff", "gateways", "spool",
        "retention",
    },
    "desk": {
        "desk", "store", "consent", "texts", "outbound", "gateways", "phones", "hours", "staff",
        "intake", "access", "inbound", "retention",
    },
    "web": {
        "web", "runtime", "config", "store", "texts", "gateways", "inbound", "staff", "spool",
        "access", "desk", "intake", "ops",
    },
    "cli": {
        "cli", "runtime", "config", "log_privacy", "store", "texts", "gateways", "phones",
        "hours", "outbound", "inbound", "staff", "intake", "worker", "web.server", "spool",
        "access", "retention", "ops",
    },
}  # fmt: skip


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    line: int
    target: str  # the module imported (resolved to a module of ours where it is one)
    names: tuple[str, ...]  # for ``from X import a, b``; empty for ``import X``
    type_only: bool  # under ``if TYPE_CHECKING:``

    def __str__(self) -> str:
        what = f"from {self.target} import {', '.join(self.names)}" if self.names else self.target
        return f"{self.importer}:{self.line}: {what}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    is_package = modules()[importer].name == "__init__.py"
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imports() -> tuple[Import, ...]:
    found = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        typing_only = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.append(
                        Import(name, node.lineno, alias.name, (), node.lineno in typing_only)
                    )
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, node)
                names = tuple(alias.name for alias in node.names)
                submodules = [n for n in names if f"{target}.{n}" in modules()]
                for sub in submodules:  # ``from followup.x import module``
                    found.append(
                        Import(name, node.lineno, f"{target}.{sub}", (), node.lineno in typing_only)
                    )
                rest = tuple(n for n in names if n not in submodules)
                if rest or not submodules:
                    found.append(
                        Import(name, node.lineno, target, rest, node.lineno in typing_only)
                    )
    return tuple(found)


def part(module: str) -> str:
    """``followup.outbound.planner`` -> ``outbound``; ``followup.runtime`` -> ``runtime``."""
    return module.split(".")[1] if module.count(".") else ""


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def ours(imp: Import) -> bool:
    return within(imp.target, "followup")


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in modules()}
    for imp in imports():
        if ours(imp) and not imp.type_only and imp.target in modules():
            edges[imp.importer].add(imp.target)
    return edges


def cycles(edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = [0]

    def visit(v: str) -> Iterator[list[str]]:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                yield from visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                yield sorted(component)

    for v in sorted(edges):
        if v not in index:
            yield from visit(v)


# --- the rules -------------------------------------------------------------------------------


def test_the_graph_is_read():
    """A guard for the rules below: the reader sees the tree and its imports."""
    assert "followup.store.outbox.machine" in modules()
    assert any(
        i.importer == "followup.runtime" and i.target == "followup.config" for i in imports()
    )


def test_there_are_no_import_cycles_counting_imports_inside_functions():
    assert list(cycles(graph())) == []


def test_each_part_imports_only_the_parts_below_it():
    broken = []
    for imp in imports():
        if not ours(imp) or imp.type_only or imp.target == "followup":
            continue
        mine, theirs = part(imp.importer), imp.target.removeprefix("followup.")
        allowed = ALLOWED.get(mine)
        assert allowed is not None, f"{imp.importer}: a new part; add it to ALLOWED and the docs"
        if not any(within(theirs, a) for a in allowed):
            broken.append(str(imp))
    assert broken == []


@pytest.mark.parametrize("pure", PURE)
def test_decisions_are_pure(pure):
    assert any(within(m, pure) for m in modules()), f"{pure} is gone: update PURE"
    broken = [
        str(imp)
        for imp in imports()
        if within(imp.importer, pure)
        and any(within(imp.target, bad) for bad in IMPURE)
        and not within(imp.target, "followup.store.statuses")
    ]
    assert broken == []


def test_gateways_never_touch_the_database():
    broken = [
        str(imp)
        for imp in imports()
        if within(imp.importer, "followup.gateways")
        and any(within(imp.target, db) for db in ("followup.store", "sqlalchemy", "psycopg"))
    ]
    assert broken == []


def sql_built(*, in_store: bool = False) -> list[tuple[str, str]]:
    """(module, where) for each import of a SQLAlchemy statement builder outside the store
    (inside it, with ``in_store``)."""
    found = []
    for imp in imports():
        if within(imp.importer, "followup.store") != in_store or not within(
            imp.target, "sqlalchemy"
        ):
            continue
        allowed = SQLALCHEMY_TYPES.get(imp.target, set())
        if imp.type_only or (imp.names and set(imp.names) <= allowed):
            continue
        found.append((imp.importer, str(imp)))
    return found


def sql_run(*, in_store: bool = False) -> list[tuple[str, str]]:
    """(module, where) for each call that runs SQL outside the store (inside it, with
    ``in_store``)."""
    found = []
    for name, path in modules().items():
        if within(name, "followup.store") != in_store:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SQL_CALLS
            ):
                found.append((name, f"{name}:{node.lineno}: .{node.func.attr}(...)"))
    return found


def test_only_the_store_builds_or_runs_sql():
    assert [where for _module, where in sql_built() + sql_run()] == []


def test_the_sql_rule_sees_sql_where_there_is_some():
    """A guard for the rule above: run on the store, it finds the store's statements."""
    built = {module for module, _ in sql_built(in_store=True)}
    run = {module for module, _ in sql_run(in_store=True)}
    assert {"followup.store.clinics", "followup.store.sessions"} <= built & run
    assert "followup.store.statuses" not in built | run


@pytest.mark.parametrize("edge", ["followup.web", "followup.cli"])
def test_the_web_app_and_the_cli_reach_the_store_only_through_its_functions(edge):
    """No statement builder, and no models even for a type hint: what an edge needs of a
    row comes from a store, staff, intake or inbound function."""
    found = [
        str(imp)
        for imp in imports()
        if within(imp.importer, edge)
        and (
            (
                within(imp.target, "sqlalchemy")
                and not imp.type_only
                and not (imp.names and set(imp.names) <= SQLALCHEMY_TYPES.get(imp.target, set()))
            )
            or within(imp.target, "followup.store.models")
        )
    ]
    assert found == []


def test_the_worker_and_the_web_app_never_import_each_other():
    broken = [
        str(imp)
        for imp in imports()
        if (within(imp.importer, "followup.web") and within(imp.target, "followup.worker"))
        or (within(imp.importer, "followup.worker") and within(imp.target, "followup.web"))
    ]
    assert broken == []


def test_no_module_takes_a_private_name_from_another_package():
    broken = []
    for imp in imports():
        if not ours(imp):
            continue
        home = (
            imp.target
            if modules().get(imp.target, Path()).name == "__init__.py"
            else (imp.target.rsplit(".", 1)[0])
        )
        mine = imp.importer.rsplit(".", 1)[0]
        if modules().get(imp.importer, Path()).name == "__init__.py":
            mine = imp.importer
        private = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
        if private and not within(mine, home):
            broken.append(str(imp))
    assert broken == []
