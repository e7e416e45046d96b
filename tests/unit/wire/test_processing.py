"""The media-processing notification's structs."""

from __future__ import annotations

import msgspec

from bridge.wire.processing import ProcessingItem, ProcessingOutput


def fields(struct: type[msgspec.Struct]) -> dict[str, tuple[object, object, str]]:
    return {
        field.name: (field.type, field.default, field.encode_name)
        for field in msgspec.structs.fields(struct)
    }


def test_an_item_has_every_output_field_alike() -> None:
    """The item repeats the output's fields rather than inheriting them (see the module)."""
    output, item = fields(ProcessingOutput), fields(ProcessingItem)

    assert {name: item.get(name) for name in output} == output
