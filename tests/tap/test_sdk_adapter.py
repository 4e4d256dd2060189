"""The SDK internals tap-dinero relies on (dinero_api/sdk_adapter.py) still exist in the installed SDK.

An SDK upgrade that renames or reshapes one of them fails here, loudly, instead of silently changing
what the tap emits (a second SCHEMA per parent record, a max(UpdatedAt) bookmark, deselected fields).
That no other module uses a private SDK name, and that every override and call of one in the
adapter module fits the installed SDK, is checked by ``tests/test_sdk_adapters.py``.
"""

from __future__ import annotations

import inspect

from singer_sdk.streams import Stream

from dinero_api import sdk_adapter
from tap_dinero.tap import TapDinero
from tests.harness import CollectingWriter


def test_installed_sdk_is_the_series_the_adapter_was_written_for() -> None:
    assert sdk_adapter.sdk_version().startswith(sdk_adapter.SDK_SERIES + "."), (
        f"singer-sdk {sdk_adapter.sdk_version()} is installed; dinero_api/sdk_adapter.py overrides SDK "
        f"internals of {sdk_adapter.SDK_SERIES}: re-check each override, then update SDK_SERIES"
    )


def test_every_overridden_sdk_internal_exists_with_the_signature_we_override() -> None:
    expected = {
        "_request": ["self", "prepared_request", "context"],
        "_write_schema_message": ["self"],
        "_increment_stream_state": ["self", "latest_record", "context"],
        "_generate_record_messages": ["self", "record"],
    }
    from singer_sdk.streams import RESTStream

    for name, params in expected.items():
        owner = RESTStream if name == "_request" else Stream
        assert list(inspect.signature(getattr(owner, name)).parameters) == params, name
    assert sdk_adapter.PROGRESS_MARKERS == "progress_markers"


def test_deselected_properties_are_still_removed_by_the_fast_record_path(tap_config) -> None:
    catalog = TapDinero(config=tap_config, setup_mapper=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            crumb = meta["breadcrumb"]
            if crumb == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == "contacts"
            elif entry["tap_stream_id"] == "contacts" and crumb[-1] in ("Email", "Phone"):
                meta["metadata"]["selected"] = False
    writer = CollectingWriter()
    TapDinero(config=tap_config, catalog=catalog, message_writer=writer).sync_all()
    records = [m["record"] for m in writer.messages if m.get("type") == "RECORD"]
    assert records, "the demo organization has contacts"
    assert all("Email" not in r and "Phone" not in r for r in records)
    assert all(r.get("ContactGuid") and "Name" in r for r in records)
