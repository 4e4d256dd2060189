"""Derive the facts-only API contract from Dinero's own OpenAPI document.

    python scripts/derive_contract.py [path/to/openapi.json]    # default: ../shared/dinero-api/openapi.json
    python scripts/derive_contract.py --check                    # exit 1 when the committed file is stale

Why: the project must not read ``../shared`` at run or test time (a fresh clone has no such directory), yet
the sandbox, the tap's schemas and the contract tests must all follow Dinero's spec. This script keeps only
the facts of the spec -- paths, methods, parameters, request and response schemas (types, formats,
``required``, ``enum``, lengths, ``additionalProperties``), component schemas -- and drops every piece of
prose (``description``, ``summary``, ``example``, ``tags``). The result is itself a valid OpenAPI 3.1
document (so an OpenAPI tester can load it as is), written to ``dinero_api/contract/openapi-contract.json``
with the source's sha256 under ``x-source``.

Two facts live only in the spec's prose and are kept as extension keys on the ``fields`` query parameter:
``x-fields-options`` (the "Possible values are ..." list, plus the default fields) -- the tap asks for
exactly these and the sandbox accepts exactly these.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: ``../shared`` of the main checkout; a worktree under ``wt/`` finds it one level further up.
SOURCE_CANDIDATES = [d / "shared" / "dinero-api" / "openapi.json" for d in (ROOT.parent, ROOT.parent.parent)]
DEFAULT_SOURCE = next((c for c in SOURCE_CANDIDATES if c.exists()), SOURCE_CANDIDATES[0])
OUTPUT = ROOT / "dinero_api" / "contract" / "openapi-contract.json"
SOURCE_NOTE = {
    "origin": "klh/speedy-claude@86feab4579782f581a3718e3446c3fd5dc45c7bb:"
    "skills/dinero-regnskab/references/openapi.json",
}

METHODS = ("get", "put", "post", "delete", "patch")
#: Schema keywords that are facts (everything else -- description, example, title -- is dropped).
SCHEMA_KEYS = frozenset(
    {
        "type",
        "format",
        "properties",
        "items",
        "required",
        "enum",
        "const",
        "$ref",
        "allOf",
        "anyOf",
        "oneOf",
        "additionalProperties",
        "maxLength",
        "minLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "pattern",
        "default",
        "maxItems",
        "minItems",
        "uniqueItems",
        "readOnly",
        "writeOnly",
        "deprecated",
        "nullable",
    }
)
PARAM_KEYS = ("name", "in", "required", "deprecated")
FIELDS_RE = re.compile(r"Possible values are:?\s*(.*?)\.(?:\s|$)", re.S)


def facts_schema(schema: Any) -> Any:
    """``schema`` with every non-fact keyword removed (recursively)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in SCHEMA_KEYS:
            continue
        if key == "properties":
            out[key] = {name: facts_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = facts_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [facts_schema(sub) for sub in value]
        else:
            out[key] = value
    return out


def fields_options(description: str, default: str | None) -> list[str]:
    """The field names a ``fields`` parameter accepts, from its prose, plus its default fields."""
    names: list[str] = []
    match = FIELDS_RE.search(description or "")
    if match:
        names = [tok for tok in re.split(r"[\s,]+", match.group(1)) if tok and tok != "and"]
    for name in (default or "").split(","):
        name = name.strip()
        if name and name.lower() not in {n.lower() for n in names}:
            names.append(name[0].upper() + name[1:])
    return names


def facts_parameter(param: dict[str, Any]) -> dict[str, Any]:
    """A parameter object reduced to its facts."""
    out = {key: param[key] for key in PARAM_KEYS if key in param}
    out["schema"] = facts_schema(param.get("schema", {}))
    if param.get("name", "").lower() == "fields" and param.get("in") == "query":
        out["x-fields-options"] = fields_options(param.get("description", ""), out["schema"].get("default"))
    return out


def facts_content(content: dict[str, Any]) -> dict[str, Any]:
    """Media types with their schemas only."""
    return {media: {"schema": facts_schema(body.get("schema", {}))} for media, body in content.items()}


def facts_operation(op: dict[str, Any]) -> dict[str, Any]:
    """An operation reduced to parameters, request body and responses (no prose)."""
    out: dict[str, Any] = {}
    if op.get("parameters"):
        out["parameters"] = [facts_parameter(p) for p in op["parameters"]]
    if "requestBody" in op:
        body = op["requestBody"]
        out["requestBody"] = {"content": facts_content(body.get("content", {}))}
        if "required" in body:
            out["requestBody"]["required"] = body["required"]
    out["responses"] = {
        status: {"description": "", **({"content": facts_content(r["content"])} if r.get("content") else {})}
        for status, r in op.get("responses", {}).items()
    }
    if op.get("deprecated"):
        out["deprecated"] = True
    return out


def derive(spec: dict[str, Any], sha256: str) -> dict[str, Any]:
    """The contract document for ``spec`` (whose bytes hash to ``sha256``)."""
    paths: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        ops = {m: facts_operation(op) for m, op in item.items() if m in METHODS and isinstance(op, dict)}
        if ops:
            paths[path] = ops
    schemas = {name: facts_schema(s) for name, s in spec["components"]["schemas"].items()}
    return {
        "openapi": spec["openapi"],
        "info": {
            "title": spec["info"].get("title", "Dinero API"),
            "version": spec["info"].get("version", ""),
        },
        "x-source": {"sha256": sha256, **SOURCE_NOTE},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def render(contract: dict[str, Any]) -> str:
    """Stable text of the contract (sorted keys inside schemas keep diffs small)."""
    return json.dumps(contract, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the contract file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", nargs="?", default=str(DEFAULT_SOURCE))
    parser.add_argument("--check", action="store_true", help="fail when the committed contract is stale")
    args = parser.parse_args(argv)
    raw = Path(args.source).read_bytes()
    text = render(derive(json.loads(raw), hashlib.sha256(raw).hexdigest()))
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale: run python scripts/derive_contract.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    ops = sum(len(v) for v in json.loads(text)["paths"].values())
    schemas = len(json.loads(text)["components"]["schemas"])
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {ops} operations, {schemas} schemas")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
