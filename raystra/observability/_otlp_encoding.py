"""OTLP protobuf encoding of raystra's spans, written directly from the span's fields.

The OpenTelemetry SDK's path builds a ``ReadableSpan`` per span, then its OTLP encoder turns
every attribute into protobuf message objects one by one: ~100 microseconds of driver CPU
per span, and a trivial step has two spans. Here each span becomes its protobuf bytes in one
pass (the wire format of ``opentelemetry.proto.trace.v1.Span``), with the encoded key-value
pairs that repeat across spans (run id, host, status) cached, so a span costs a few
microseconds. The bytes are the same message the SDK exporter would send; `encode_request`
wraps a batch of them in an ``ExportTraceServiceRequest``.

Example:
    >>> span = encode_span(
    ...     trace_id=1, span_id=2, parent_id=None, name="raystra.run",
    ...     start_ns=0, end_ns=1, attributes={"raystra.run.id": "r1"},
    ... )
    >>> from opentelemetry.proto.trace.v1.trace_pb2 import Span
    >>> Span.FromString(span).name
    'raystra.run'
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["encode_request", "encode_span"]

_FIXED64 = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")
_INT64_MASK = (1 << 64) - 1
# Span.flags: SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK, parent not remote (what the SDK sends).
_FLAGS = b"\x85\x01" + struct.pack("<I", 0x100)  # field 16, fixed32
_LINK_FLAGS = b"\x35" + struct.pack("<I", 0x100)  # Link.flags, field 6, fixed32
_KIND_INTERNAL = b"\x30\x01"  # Span.kind = SPAN_KIND_INTERNAL
_STATUS_UNSET = b"\x7a\x00"  # Span.status: an empty Status message (code UNSET)

# Encoded KeyValue fields (tag included) by (tag, key, value, value type): most attribute
# pairs repeat across spans (run id, host, status, attempt).
_KV_CACHE: dict[tuple[int, str, Any, type], bytes] = {}
_KV_CACHE_MAX = 50_000
_CACHED_TYPES = frozenset({str, int, float, bool})


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field (``tag`` is the already shifted key byte)."""
    return bytes((tag,)) + _varint(len(payload)) + payload


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message for an attribute value (other types travel as their str)."""
    if isinstance(value, str):
        return _field(0x0A, value.encode())
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value & _INT64_MASK)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, (list, tuple)):
        items = b"".join(_field(0x0A, _any_value(item)) for item in value)
        return _field(0x2A, items)  # ArrayValue.values
    return _field(0x0A, str(value).encode())


def _key_value(tag: int, key: str, value: Any) -> bytes:
    """One attribute as a ``KeyValue`` field with ``tag`` (attributes of a span, link, event)."""
    body = _field(0x0A, key.encode()) + _field(0x12, _any_value(value))
    return bytes((tag,)) + _varint(len(body)) + body


def _attributes(tag: int, attributes: Mapping[str, Any]) -> bytes:
    cache = _KV_CACHE
    parts = []
    for key, value in attributes.items():
        kind = type(value)
        if kind not in _CACHED_TYPES:
            # Sequences are encoded every time: (1,) == (True,) would share a cache entry.
            parts.append(_key_value(tag, key, value))
            continue
        cache_key = (tag, key, value, kind)
        encoded = cache.get(cache_key)
        if encoded is None:
            encoded = _key_value(tag, key, value)
            if len(cache) >= _KV_CACHE_MAX:
                cache.clear()
            cache[cache_key] = encoded
        parts.append(encoded)
    return b"".join(parts)


@functools.lru_cache(maxsize=1_000)  # span names are few (`raystra.run`, `raystra.step`, ...)
def _name(name: str) -> bytes:
    return _field(0x2A, name.encode())


def encode_span(
    *,
    trace_id: int,
    span_id: int,
    parent_id: int | None,
    name: str,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, Any],
    status_message: str | None = None,
    events: Sequence[tuple[str, int, Mapping[str, Any]]] = (),
    links: Iterable[tuple[int, int, Mapping[str, Any]]] = (),
) -> bytes:
    """One ``Span`` message, as the SDK's OTLP exporter would encode the same span.

    ``status_message`` set means status ERROR with that description (else UNSET); ``events``
    are (name, time in ns, attributes); ``links`` are (trace id, span id, attributes).
    """
    parts = [
        b"\x0a\x10" + trace_id.to_bytes(16, "big"),
        b"\x12\x08" + span_id.to_bytes(8, "big"),
    ]
    if parent_id is not None:
        parts.append(b"\x22\x08" + parent_id.to_bytes(8, "big"))
    parts += (
        _name(name),
        _KIND_INTERNAL,
        b"\x39" + _FIXED64.pack(start_ns),
        b"\x41" + _FIXED64.pack(end_ns),
        _attributes(0x4A, attributes),
    )
    for event_name, time_ns, event_attributes in events:
        event = (
            b"\x09"
            + _FIXED64.pack(time_ns)
            + _field(0x12, event_name.encode())
            + _attributes(0x1A, event_attributes)
        )
        parts.append(_field(0x5A, event))
    for link_trace, link_span, link_attributes in links:
        link = (
            b"\x0a\x10"
            + link_trace.to_bytes(16, "big")
            + b"\x12\x08"
            + link_span.to_bytes(8, "big")
            + _attributes(0x22, link_attributes)
            + _LINK_FLAGS
        )
        parts.append(_field(0x6A, link))
    if status_message is None:
        parts.append(_STATUS_UNSET)
    else:
        parts.append(_field(0x7A, _field(0x12, status_message.encode()) + b"\x18\x02"))
    parts.append(_FLAGS)
    return b"".join(parts)


def encode_request(resource: bytes, scope: bytes, spans: Iterable[bytes]) -> bytes:
    """An ``ExportTraceServiceRequest`` of ``spans`` (from `encode_span`), one resource/scope.

    ``resource`` and ``scope`` are the serialized ``Resource`` and ``InstrumentationScope``.
    """
    scope_spans = _field(0x0A, scope) + b"".join(_field(0x12, span) for span in spans)
    resource_spans = _field(0x0A, resource) + _field(0x12, scope_spans)
    return _field(0x0A, resource_spans)
