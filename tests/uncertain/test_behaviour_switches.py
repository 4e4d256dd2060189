"""The behaviour switches themselves: every choice is reachable, unknown ones are refused, a reset restores
the instance's starting behaviours, and the command line takes them."""

from __future__ import annotations

import pytest

from dinero_sandbox import cli
from dinero_sandbox.behaviours import CHOICES, Behaviours, parse_assignment
from dinero_sandbox.testing import SandboxServer


def test_every_choice_is_reachable_and_unknown_ones_are_refused(sandbox: SandboxServer) -> None:
    for name, values in CHOICES.items():
        for value in values:
            assert sandbox.set_behaviours(**{name: value})[name] == value
    with pytest.raises(RuntimeError, match="must be one of"):
        sandbox.set_behaviours(updated_at="mars")
    with pytest.raises(RuntimeError, match="unknown behaviour"):
        sandbox.set_behaviours(colour="blue")


def test_reset_restores_the_starting_behaviours() -> None:
    with SandboxServer(behaviours={"updated_at": "local"}) as server:
        server.set_behaviours(updated_at="utc", guid_taken="conflict")
        server.reset()
        assert server.behaviours() == {**Behaviours().as_dict(), "updated_at": "local"}


def test_command_line_assignments() -> None:
    assert parse_assignment("query_quotes=backslash") == ("query_quotes", "backslash")
    with pytest.raises(ValueError):
        parse_assignment("query_quotes")
    assert cli.main(["--behaviour", "voucher_sign=sideways", "--port", "0"]) == 2
