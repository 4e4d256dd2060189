"""Private singer-sdk names are used only in ``dinero_api/sdk_adapter.py``, and each still fits the SDK.

That one module holds every override and use of an SDK internal by tap and target. These tests fail

* when any other module of ``dinero_api``, ``tap_dinero`` or ``target_dinero`` names a private SDK name: an
  import from a private SDK module (``singer_sdk.helpers._state``), ``obj._name`` where ``_name`` is a
  private attribute or method of singer-sdk's Tap/Target/Stream/Sink/paginator classes, ``module._name``
  (or ``getattr(module, "_name")``) on a singer-sdk module the file imported (``plugin_base``), or -- inside
  a class that is (or is mixed into) an SDK subclass -- ``self._name`` / ``super()._name`` / ``def _name``;
* when an SDK upgrade removes or reshapes a private name the adapter overrides or calls (an override whose
  parameters differ from the SDK's, a call that no longer binds to the SDK's signature), or when an
  adapter's own private attribute would shadow one of the SDK's;
* when the installed SDK is not the series the adapter was written for.

The private names are read from the installed SDK (``vars()`` of every SDK class in the MRO of those
classes, plus the ``self._x`` attributes their source assigns), so an upgrade that adds one is covered.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from pathlib import Path

import pytest
from singer_sdk import Tap, Target
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.plugin_base import PluginBase
from singer_sdk.sinks import BatchSink, RecordSink, Sink
from singer_sdk.streams import RESTStream, Stream

import dinero_api.sdk_adapter as shared_adapter

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("dinero_api", "tap_dinero", "target_dinero")
#: The one module allowed to name private SDK names.
ADAPTERS = (shared_adapter,)
ADAPTER_FILES = {Path(module.__file__).resolve() for module in ADAPTERS}
SDK_ROOTS = (Tap, Target, RESTStream, BatchSink, RecordSink, BaseAPIPaginator)
SDK_BASES = (PluginBase, Stream, Sink, BaseAPIPaginator)
ATTRIBUTE_FUNCTIONS = {"getattr", "setattr", "hasattr", "delattr"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _sdk_classes() -> list[type]:
    seen: dict[type, None] = {}
    for root in SDK_ROOTS:
        for cls in root.__mro__:
            if cls.__module__.startswith("singer_sdk"):
                seen[cls] = None
    return list(seen)


def sdk_private_names() -> set[str]:
    """Private attributes and methods of singer-sdk's plugin, stream, sink and paginator classes."""
    names: set[str] = set()
    for cls in _sdk_classes():
        names.update(name for name in vars(cls) if _private(name))
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):  # pragma: no cover - a class without source
            continue
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls")
                and _private(node.attr)
            ):
                names.add(node.attr)
    return names


def sdk_definition(name: str, adapter: type | None = None) -> object | None:
    """The SDK's own definition of a private method ``name``: the one ``adapter`` overrides (the first SDK
    class in its MRO that defines it), else the first SDK class that defines it."""
    classes = [c for c in adapter.__mro__ if c.__module__.startswith("singer_sdk")] if adapter else []
    for cls in [*classes, *_sdk_classes()]:
        if name in vars(cls):
            return vars(cls)[name]
    return None


def sdk_side_classes() -> set[str]:
    """``module:qualname`` of every project class that is an SDK subclass or in the MRO of one (mixins)."""
    found: set[str] = set()
    for package in PACKAGES:
        root = importlib.import_module(package)
        modules = [root] + [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")
        ]
        for module in modules:
            for obj in vars(module).values():
                if not (isinstance(obj, type) and obj.__module__ == module.__name__):
                    continue
                if issubclass(obj, SDK_BASES):
                    found.update(
                        f"{cls.__module__}:{cls.__qualname__}"
                        for cls in obj.__mro__
                        if cls.__module__.split(".")[0] in PACKAGES
                    )
    return found


def _is_self(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _sdk_module_names(source: str) -> set[str]:
    """Local names ``source`` binds to singer-sdk imports (``from singer_sdk import plugin_base``)."""
    bound: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "singer_sdk":
            bound.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "singer_sdk":
                    bound.add(alias.asname or alias.name.split(".")[0])
    return bound


def _on_module(node: ast.expr, modules: set[str]) -> bool:
    """``node`` is (an attribute chain rooted at) a name bound to a singer-sdk import."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in modules


def private_sdk_uses(source: str, module: str, names: set[str], sdk_side: set[str]) -> list[str]:
    """Each use of a private SDK name in ``source`` (the module ``module``), as ``line: what``."""
    found: list[str] = []
    sdk_modules = _sdk_module_names(source)

    def visit(node: ast.AST, classes: list[str]) -> None:
        qualname = ".".join(classes)
        in_sdk_class = f"{module}:{qualname}" in sdk_side
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            parts = (node.module or "").split(".")
            if any(_private(part) for part in parts) or any(_private(a.name) for a in node.names):
                found.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "singer_sdk" and any(_private(part) for part in parts):
                    found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and _private(node.attr) and _on_module(node.value, sdk_modules):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Attribute) and node.attr in names:
            if in_sdk_class or not _is_self(node.value):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names and in_sdk_class:
            found.append(f"{node.lineno}: def {node.name} in {qualname}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ATTRIBUTE_FUNCTIONS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and (
                node.args[1].value in names
                or (_private(str(node.args[1].value)) and _on_module(node.args[0], sdk_modules))
            )
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.ClassDef):
            inner = [*classes, node.name]
            if f"{module}:{'.'.join(inner)}" in sdk_side:
                for stmt in node.body:  # class attributes named like the SDK's
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else (
                        [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
                    )
                    for target in targets:
                        if isinstance(target, ast.Name) and target.id in names:
                            found.append(f"{stmt.lineno}: {target.id} = ... in {'.'.join(inner)}")
            for child in ast.iter_child_nodes(node):
                visit(child, inner)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, classes)

    visit(ast.parse(source), [])
    return found


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_installed_sdk_is_the_series_the_adapters_were_written_for() -> None:
    version = shared_adapter.sdk_version()
    assert version.startswith(shared_adapter.SDK_SERIES + "."), (
        f"singer-sdk {version} is installed; the sdk_adapter modules override SDK internals of "
        f"{shared_adapter.SDK_SERIES}: re-check each one (tests/test_sdk_adapters.py), then update SDK_SERIES"
    )


def test_the_scan_finds_each_kind_of_private_sdk_use() -> None:
    """The scanner itself: what the tap and target did before the adapters held it all."""
    source = textwrap.dedent(
        """
        from singer_sdk.helpers._state import PROGRESS_MARKERS
        from singer_sdk import Target

        class Mine(Target):
            _sinks_active = {}

            def _drain_all(self, sinks, parallelism):
                super()._drain_all(sinks, parallelism)

            def own(self, stream, sink):
                stream._initialized_at = 1
                sink._get_context({})
                getattr(stream, "_tap")
                return self._state

        def reword():
            from singer_sdk import plugin_base
            plugin_base._format_validation_error = str

        class Helper:
            def __init__(self):
                self._state = {}  # a name of its own: not an SDK class, not reaching into one
        """
    )
    names = sdk_private_names()
    uses = private_sdk_uses(source, "m", names, {"m:Mine"})
    assert [use.split(": ", 1)[1] for use in uses] == [
        "from singer_sdk.helpers._state import ...",
        "_sinks_active = ... in Mine",
        "def _drain_all in Mine",
        "super()._drain_all",
        "stream._initialized_at",
        "sink._get_context",
        "getattr(stream, '_tap')",
        "self._state",
        "plugin_base._format_validation_error",
    ]


def test_no_private_sdk_name_is_used_outside_the_adapter_modules() -> None:
    names = sdk_private_names()
    sdk_side = sdk_side_classes()
    offenders: list[str] = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if path.resolve() in ADAPTER_FILES:
                continue
            source = path.read_text(encoding="utf-8")
            for use in private_sdk_uses(source, _module_name(path), names, sdk_side):
                offenders.append(f"{path.relative_to(REPO)}:{use}")
    assert offenders == [], (
        "private singer-sdk names outside dinero_api/sdk_adapter.py; move them into it behind a small "
        "public function, method or mixin that the plugins call:\n"
        + "\n".join(offenders)
    )


def _adapter_classes() -> list[type]:
    return [
        obj
        for module in ADAPTERS
        for obj in vars(module).values()
        if isinstance(obj, type) and obj.__module__ == module.__name__
    ]


@pytest.mark.parametrize("adapter", _adapter_classes(), ids=lambda cls: cls.__qualname__)
def test_every_private_sdk_method_an_adapter_overrides_exists_with_the_same_signature(adapter: type) -> None:
    names = sdk_private_names()
    overrides = {name: obj for name, obj in vars(adapter).items() if _private(name) and callable(obj)}
    for name, ours in overrides.items():
        theirs = sdk_definition(name, adapter)
        assert theirs is not None, f"{adapter.__qualname__}.{name} overrides nothing in singer-sdk any more"
        ours_params = [(p.name, p.kind) for p in inspect.signature(ours).parameters.values()]
        theirs_params = [(p.name, p.kind) for p in inspect.signature(theirs).parameters.values()]
        assert ours_params == theirs_params, f"{adapter.__qualname__}.{name}: the SDK's signature changed"
    own_state = [
        name for name, obj in vars(adapter).items() if _private(name) and not callable(obj)
        and name not in ("__module__", "__doc__") and not name.startswith("_abc")
    ]
    assert [name for name in own_state if name in names] == [], "an adapter attribute shadows the SDK's"


@pytest.mark.parametrize("module", ADAPTERS, ids=lambda module: module.__name__)
def test_every_private_sdk_name_an_adapter_uses_still_exists_and_binds(module: object) -> None:
    """Each ``x._name(...)`` call binds to the SDK's signature; each ``x._name`` is an SDK name."""
    names = sdk_private_names()
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    own = {
        stmt.targets[0].id if isinstance(stmt, ast.Assign) else stmt.target.id
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef)
        for stmt in cls.body
        if isinstance(stmt, ast.Assign | ast.AnnAssign)
        and isinstance(stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target, ast.Name)
    }
    used = 0
    modules = _sdk_module_names(Path(module.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)) or node.attr in own:
            continue
        used += 1
        if isinstance(node.value, ast.Name) and node.value.id in modules:  # ``plugin_base._format_...``
            sdk_module = importlib.import_module(f"singer_sdk.{node.value.id}")
            assert hasattr(sdk_module, node.attr), f"{module.__name__}:{node.lineno}: no {node.attr} any more"
            continue
        assert node.attr in names, f"{module.__name__}:{node.lineno}: singer-sdk has no {node.attr} any more"
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        if not _private(name) or name in own or any(isinstance(a, ast.Starred) for a in node.args):
            continue
        # a name may be defined by several SDK classes (``_write_state_message`` of Stream and of Sink):
        # the call must bind to one of them
        definitions = [vars(cls)[name] for cls in _sdk_classes() if callable(vars(cls).get(name))]
        assert definitions, f"{module.__name__}:{node.lineno}: {name} is no SDK method any more"
        args = [object(), *[None] * len(node.args)]
        kwargs = {kw.arg: None for kw in node.keywords if kw.arg}
        assert any(_binds(definition, args, kwargs) for definition in definitions), (
            f"{module.__name__}:{node.lineno}: {name} no longer takes these arguments"
        )
    assert used, f"{module.__name__} uses no private SDK name: fold it into its callers"


def _binds(function: object, args: list[object], kwargs: dict[str, object]) -> bool:
    try:
        inspect.signature(function).bind(*args, **kwargs)
    except TypeError:
        return False
    return True


def test_exactly_one_adapter_module() -> None:
    """The plugins keep no adapter of their own: tap_dinero/ and target_dinero/ hold no sdk_adapter."""
    adapters = sorted(
        str(path.relative_to(REPO)) for pkg in PACKAGES for path in (REPO / pkg).rglob("*adapter*.py")
    )
    assert adapters == ["dinero_api/sdk_adapter.py"]
