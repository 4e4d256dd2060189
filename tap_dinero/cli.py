"""``tap-dinero`` console script: the tap's CLI, ending every known failure in one line (dinero_api.cli)."""

from __future__ import annotations

from dinero_api.cli import run_plugin


def main() -> None:
    """Entry point of the ``tap-dinero`` command."""
    from tap_dinero.tap import TapDinero

    run_plugin(TapDinero)


if __name__ == "__main__":
    main()
