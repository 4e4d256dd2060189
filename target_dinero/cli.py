"""``target-dinero`` console script: the target's CLI, ending every known failure in one line
(dinero_api.cli)."""

from __future__ import annotations

from dinero_api.cli import run_plugin


def main() -> None:
    """Entry point of the ``target-dinero`` command."""
    from target_dinero.target import TargetDinero

    run_plugin(TargetDinero)


if __name__ == "__main__":
    main()
