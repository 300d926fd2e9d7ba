"""Discovery: YAML manifests, @skill functions, broken skills, signatures and ids."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_ROOT, RootBuilder
from google.protobuf import json_format
from skillos.v1 import skill_pb2

from skillos_runner.discovery import SignatureError, discover, plan_call
from skillos_runner.manifest import Manifest, ManifestError

SIMPLE_IMPL = """
def run(payload, ctx=None):
    return {"echo": payload}
"""


def problems_of(catalog: Any) -> dict[str, str]:
    return {problem.skill_id or problem.source: problem.message for problem in catalog.problems}


def test_the_example_root_loads_every_skill() -> None:
    catalog = discover(EXAMPLE_ROOT)

    assert catalog.problems == []
    assert len(catalog.skills) == 16
    convert = catalog.skills["finance/convert_currency"]
    result = convert.function({"amount": 100, "from": "USD", "to": "EUR"})
    assert result["converted"] == 92.0


def test_manifest_fields_reach_the_wire(root: RootBuilder) -> None:
    root.write("implementations/billing/charge.py", SIMPLE_IMPL)
    root.yaml_skill(
        "billing/charge",
        "implementations.billing.charge:run",
        """
        tags: [billing, money]
        input_schema:
          type: object
          properties:
            amount: {type: number, minimum: 0}
            day: {type: string, format: date}
          required: [amount]
          examples:
          - {amount: 5, day: 2026-11-01}
        output_schema: {type: object}
        cost_estimate: 0.25
        risk_tier: high
        required_permissions: ["billing:write"]
        timeout_seconds: 2.5
        retryable: true
        deprecated: true
        deprecation_reason: use billing/charge_v2
        replacement_id: billing/charge_v2
        """,
    )

    catalog = discover(root.root)

    assert catalog.problems == []
    message = catalog.skills["billing/charge"].manifest.to_proto()
    assert message.id == "billing/charge"
    assert message.entrypoint == "implementations.billing.charge:run"
    assert list(message.tags) == ["billing", "money"]
    schema = json_format.MessageToDict(message.input_schema)
    assert schema["required"] == ["amount"]
    assert schema["examples"] == [{"amount": 5, "day": "2026-11-01"}]  # YAML date as a string
    assert message.HasField("output_schema")
    assert message.HasField("cost_estimate") and message.cost_estimate == 0.25
    assert message.risk_tier == skill_pb2.RISK_TIER_HIGH
    assert list(message.required_permissions) == ["billing:write"]
    assert message.timeout.ToTimedelta().total_seconds() == 2.5
    assert message.retryable and message.deprecated
    assert message.replacement_id == "billing/charge_v2"
    assert message.source_path == "metadata/billing/charge.yaml"


def test_optional_fields_stay_unset(root: RootBuilder) -> None:
    root.write("implementations/a/b.py", SIMPLE_IMPL)
    root.yaml_skill("a/b", "implementations.a.b:run")

    message = discover(root.root).skills["a/b"].manifest.to_proto()

    assert not message.HasField("cost_estimate")
    assert not message.HasField("input_schema")
    assert not message.HasField("timeout")
    assert message.risk_tier == skill_pb2.RISK_TIER_UNSPECIFIED


def test_modules_resolve_by_path_even_with_dashes_and_digits(root: RootBuilder) -> None:
    root.write("implementations/3d-tools/_shared.py", "FACTOR = 3\n")
    root.write(
        "implementations/3d-tools/scale-model.py",
        """
        import importlib
        shared = importlib.import_module("implementations.3d-tools._shared")

        def run(payload):
            return {"size": payload["size"] * shared.FACTOR}
        """,
    )
    root.yaml_skill("tools/scale", "implementations.3d-tools.scale-model:run")

    catalog = discover(root.root)

    assert catalog.problems == []
    assert catalog.skills["tools/scale"].function({"size": 2}) == {"size": 6}


def test_sibling_imports_resolve_inside_the_root(root: RootBuilder) -> None:
    root.write("implementations/__init__.py", "")
    root.write("implementations/_helpers.py", "def double(x):\n    return 2 * x\n")
    root.write(
        "implementations/calc/double.py",
        """
        from implementations._helpers import double

        def run(payload):
            return double(payload["x"])
        """,
    )
    root.yaml_skill("calc/double", "implementations.calc.double:run")

    assert discover(root.root).skills["calc/double"].function({"x": 21}) == 42


def test_one_broken_skill_does_not_stop_the_others(root: RootBuilder) -> None:
    root.write("implementations/ok/fine.py", SIMPLE_IMPL)
    root.write("implementations/bad/crash.py", "raise RuntimeError('boom at import')\n")
    root.write("implementations/bad/syntax.py", "def run(payload:\n")
    root.write("implementations/bad/nofunc.py", "VALUE = 1\n")
    root.write("implementations/bad/notcallable.py", "run = 42\n")
    root.yaml_skill("ok/fine", "implementations.ok.fine:run")
    root.yaml_skill("bad/crash", "implementations.bad.crash:run")
    root.yaml_skill("bad/syntax", "implementations.bad.syntax:run")
    root.yaml_skill("bad/nofunc", "implementations.bad.nofunc:run")
    root.yaml_skill("bad/notcallable", "implementations.bad.notcallable:run")
    root.yaml_skill("bad/missing", "implementations.bad.does_not_exist:run")
    root.write("metadata/bad/unparsable.yaml", "id: [unclosed\n")

    catalog = discover(root.root)
    problems = problems_of(catalog)

    assert list(catalog.skills) == ["ok/fine"]
    assert "RuntimeError: boom at import" in problems["bad/crash"]
    assert "SyntaxError" in problems["bad/syntax"]
    assert "has no attribute 'run'" in problems["bad/nofunc"]
    assert "not callable" in problems["bad/notcallable"]
    assert "not found" in problems["bad/missing"]
    assert "cannot read the manifest" in problems["metadata/bad/unparsable.yaml"]
    assert "implementations.bad.crash" not in sys.modules


def test_invalid_manifests_are_reported_with_every_problem(root: RootBuilder) -> None:
    root.write(
        "metadata/x/bad.yaml",
        """
        id: not-an-id
        name: Bad
        version: 1.0
        entrypoint: nocolon
        risk_tier: extreme
        tags: single
        deprecated: true
        """,
    )

    catalog = discover(root.root)
    message = problems_of(catalog)["not-an-id"]

    assert catalog.skills == {}
    for fragment in (
        "id:",
        "description: is required",
        "version: must be a string",
        "entrypoint:",
        "risk_tier:",
        "tags:",
        "deprecated: needs",
    ):
        assert fragment in message


def test_duplicate_ids_keep_the_first_file(root: RootBuilder) -> None:
    root.write("implementations/a/one.py", SIMPLE_IMPL)
    root.yaml_skill("a/one", "implementations.a.one:run", file="metadata/a/1.yaml")
    root.yaml_skill("a/one", "implementations.a.one:run", file="metadata/a/2.yml")

    catalog = discover(root.root)

    assert catalog.skills["a/one"].manifest.source_path == "metadata/a/1.yaml"
    assert "already defined by metadata/a/1.yaml" in problems_of(catalog)["a/one"]


def test_skill_functions_in_skills_local(root: RootBuilder) -> None:
    root.write(
        "skills_local/greetings.py",
        '''
        from skillos_runner import skill

        @skill(tags=["demo"])
        def say_hello(payload, ctx=None):
            """Greets someone by name."""
            return {"greeting": "Hello, " + payload["name"]}

        @skill(id="custom/shout", version="2.0.0", retryable=True, timeout_seconds=3,
               input_schema={"type": "object"})
        async def shout(payload):
            return payload["text"].upper()

        @skill(name="bad name")
        def invalid(payload):
            return None

        def plain_helper(payload):
            return None
        ''',
    )
    root.write("skills_local/_private.py", "raise RuntimeError('helpers are never imported')\n")

    catalog = discover(root.root)

    assert sorted(catalog.skills) == ["custom/shout", "local/say_hello"]
    hello = catalog.skills["local/say_hello"]
    assert hello.manifest.name == "say_hello"
    assert hello.manifest.description == "Greets someone by name."
    assert hello.manifest.version == "1.0.0"
    assert hello.manifest.tags == ("demo",)
    assert hello.manifest.entrypoint == "skills_local.greetings:say_hello"
    assert hello.manifest.source_path == ""
    assert hello.plan.wants_ctx and not hello.is_async
    shout = catalog.skills["custom/shout"]
    assert shout.is_async and shout.manifest.retryable and shout.manifest.timeout_seconds == 3
    assert list(problems_of(catalog)) == ["local/bad name"]


def test_yaml_wins_over_a_decorated_skill_with_the_same_id(root: RootBuilder) -> None:
    root.write("implementations/local/hello.py", "def run(payload):\n    return 'from yaml'\n")
    root.yaml_skill("local/hello", "implementations.local.hello:run")
    root.write(
        "skills_local/hello.py",
        """
        from skillos_runner import skill

        @skill
        def hello(payload):
            return "from decorator"
        """,
    )

    catalog = discover(root.root)

    assert catalog.skills["local/hello"].function({}) == "from yaml"
    assert "shadowed by metadata/local/hello.yaml" in problems_of(catalog)["local/hello"]


def test_decorated_functions_in_entrypoint_modules_register_too(root: RootBuilder) -> None:
    root.write(
        "implementations/mixed/tools.py",
        """
        from skillos_runner import skill

        def run(payload):
            return 1

        @skill(id="mixed/extra")
        def extra(payload):
            return 2
        """,
    )
    root.yaml_skill("mixed/tools", "implementations.mixed.tools:run")

    assert sorted(discover(root.root).skills) == ["mixed/extra", "mixed/tools"]


def test_a_decorated_function_imported_elsewhere_registers_once(root: RootBuilder) -> None:
    root.write(
        "skills_local/base.py",
        """
        from skillos_runner import skill

        @skill
        def ping(payload):
            return "pong"
        """,
    )
    root.write("skills_local/reexport.py", "from skills_local.base import ping\n")

    catalog = discover(root.root)

    assert list(catalog.skills) == ["local/ping"] and catalog.problems == []


def test_explicit_modules_outside_the_root(root: RootBuilder, tmp_path: Path) -> None:
    root.write("implementations/a/b.py", SIMPLE_IMPL)
    root.yaml_skill("a/b", "implementations.a.b:run")
    extra = tmp_path / "elsewhere" / "extra_skills.py"
    extra.parent.mkdir()
    extra.write_text(
        "from skillos_runner import skill\n\n@skill\ndef outside(payload):\n    return 'ok'\n",
        encoding="utf-8",
    )

    catalog = discover(root.root, [extra])

    assert sorted(catalog.skills) == ["a/b", "local/outside"]
    assert catalog.skills["local/outside"].manifest.entrypoint == "extra_skills:outside"


def test_a_skill_with_a_bad_signature_is_skipped(root: RootBuilder) -> None:
    root.write(
        "implementations/sig/funcs.py",
        """
        def good(payload, ctx=None):
            return 1

        def needs_more(payload, other):
            return 2
        """,
    )
    root.yaml_skill("sig/good", "implementations.sig.funcs:good")
    root.yaml_skill("sig/bad", "implementations.sig.funcs:needs_more")

    catalog = discover(root.root)

    assert list(catalog.skills) == ["sig/good"]
    assert "`other` have no default" in problems_of(catalog)["sig/bad"]


def _payload_ctx(payload, ctx=None): ...
def _payload_only(data): ...
def _named_payload(ctx, payload): ...
def _keyword_only(*, payload, ctx): ...
def _varargs(*args, **kwargs): ...
def _optional_extra(payload, verbose=False, ctx=None): ...
def _positional_only(payload, /, ctx=None): ...
async def _async(payload, ctx): ...


@pytest.mark.parametrize(
    ("function", "payload_keyword", "wants_ctx"),
    [
        (_payload_ctx, True, True),
        (_payload_only, False, False),
        (_named_payload, True, True),
        (_keyword_only, True, True),
        (_varargs, False, False),
        (_optional_extra, True, True),
        (_positional_only, False, True),
        (_async, True, True),
    ],
)
def test_accepted_signatures(function: Any, payload_keyword: bool, wants_ctx: bool) -> None:
    plan = plan_call(function)

    assert (plan.payload_keyword, plan.wants_ctx) == (payload_keyword, wants_ctx)
    args, kwargs = plan.arguments({"p": 1}, "CTX")
    function_args = ({"p": 1},) if not payload_keyword else ()
    assert args == function_args
    assert kwargs.get("ctx") == ("CTX" if wants_ctx else None)


def _nothing(): ...
def _ctx_only(ctx): ...
def _required_extra(payload, other): ...
def _ctx_first_positional(ctx, data): ...
def _positional_only_ctx(payload, ctx, /): ...
def _generator(payload):
    yield payload


@pytest.mark.parametrize(
    ("function", "reason"),
    [
        (_nothing, "must accept the payload"),
        (_ctx_only, "must accept the payload"),
        (_required_extra, "`other` have no default"),
        (_ctx_first_positional, "must accept the payload"),
        (_positional_only_ctx, "positional-only"),
        (_generator, "generator"),
    ],
)
def test_rejected_signatures(function: Any, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        plan_call(function)


@pytest.mark.parametrize(
    "skill_id",
    ["local/hello world", "local", "a/b/c", "/a", "a/", "_a/b", "a/-b", "a b/c", "ä/b", ""],
)
def test_invalid_ids_are_refused(skill_id: str) -> None:
    data = {"id": skill_id, "name": "n", "description": "", "version": "1.0.0", "entrypoint": "m:f"}

    with pytest.raises(ManifestError, match="id:"):
        Manifest.from_mapping(data)


@pytest.mark.parametrize("skill_id", ["a/b", "Finance/Convert-Currency_2", "0/9"])
def test_valid_ids(skill_id: str) -> None:
    data = {
        "id": skill_id,
        "name": "n",
        "description": "",
        "version": "1.0.0-rc.1+b5",
        "entrypoint": "m:f",
    }

    assert Manifest.from_mapping(data).id == skill_id
