"""Payload and result codecs: Python values to JSON text and back.

A typed task gets a codec from its handler's annotation (a dataclass, TypedDict, pydantic
model or plain JSON type), built on pydantic's ``TypeAdapter``: it validates at enqueue and
again when the worker decodes. Untyped handlers get the plain JSON codec.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any, Generic, NoReturn, TypeVar

import pydantic
from pydantic_core import PydanticSerializationError

from burrow_tasks.errors import PayloadError

__all__ = ["JsonCodec", "PayloadCodec", "TypedCodec", "codec_for"]

T = TypeVar("T")


class PayloadCodec(Generic[T]):
    """Encodes values of type ``T`` to JSON text and decodes them back."""

    def encode(self, value: T) -> str:
        """JSON text for ``value``; ``PayloadError`` naming the problem when it is invalid."""
        raise NotImplementedError

    def decode(self, data: str | bytes) -> T:
        """The value ``data`` holds; ``PayloadError`` when it no longer validates."""
        raise NotImplementedError


def _not_json(value: object) -> NoReturn:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _compact_json() -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)``,
    built once.

    ``JSONEncoder.encode`` builds a new C encoder on every call, two thirds of the cost of
    encoding a small payload, which a batch enqueue pays per job; this one is built here, from
    the same C encoder ``json`` uses. Without the circular-reference bookkeeping (kept between
    calls it would outlive a failed one) a value that contains itself ends in
    ``RecursionError``, as one nested too deeply does."""
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # a Python without json's C accelerator
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    chunks = make_encoder(
        None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode


_encode_json = _compact_json()


class JsonCodec(PayloadCodec[Any]):
    """Any JSON-serialisable value. ``bytes`` are taken as JSON text already encoded."""

    def encode(self, value: Any) -> str:
        if isinstance(value, bytes | bytearray):
            text = _utf8(bytes(value))
            self.decode(text)  # refuse bytes that are not JSON text before anything is written
            return text
        try:
            return _encode_json(value)
        except (TypeError, ValueError) as exc:
            raise PayloadError(f"payload is not JSON-serialisable: {exc}") from exc
        except RecursionError:
            raise PayloadError(
                "payload is not JSON-serialisable: it contains itself or is nested too deeply"
            ) from None

    def decode(self, data: str | bytes) -> Any:
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError(f"payload is not valid JSON text: {exc}") from exc

    def __repr__(self) -> str:
        return "JsonCodec()"


class TypedCodec(PayloadCodec[T]):
    """Values validated against one type through a pydantic ``TypeAdapter``."""

    def __init__(self, type_: Any) -> None:
        self.type = type_
        try:
            self._adapter: pydantic.TypeAdapter[T] = pydantic.TypeAdapter(type_)
        except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError) as exc:
            raise TypeError(
                f"cannot build a payload codec for {type_!r}: use a dataclass, TypedDict, "
                f"pydantic model or plain JSON type ({exc})"
            ) from exc

    def encode(self, value: T) -> str:
        try:
            valid = self._adapter.validate_python(value)
            return self._adapter.dump_json(valid).decode()
        except pydantic.ValidationError as exc:
            raise PayloadError(_mismatch(self.type, exc)) from exc
        except PydanticSerializationError as exc:
            raise PayloadError(f"payload is not JSON-serialisable: {exc}") from exc

    def decode(self, data: str | bytes) -> T:
        try:
            return self._adapter.validate_json(data)
        except pydantic.ValidationError as exc:
            raise PayloadError(_mismatch(self.type, exc)) from exc

    def __repr__(self) -> str:
        return f"TypedCodec({_type_name(self.type)})"


_UNTYPED: tuple[Any, ...] = (Any, object)


def codec_for(type_: Any) -> PayloadCodec[Any]:
    """The codec for an annotation; ``Any``, ``object`` or no annotation give ``JsonCodec``."""
    if type_ is None or any(type_ is untyped for untyped in _UNTYPED):
        return JsonCodec()
    return TypedCodec(type_)


def _utf8(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise PayloadError(f"payload bytes are not UTF-8 JSON text: {exc}") from exc


def _mismatch(type_: Any, error: pydantic.ValidationError) -> str:
    """One line per problem, e.g. ``payload does not match Resize: width: Field required``."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in detail['loc']) or '(value)'}: {detail['msg']}"
        for detail in error.errors(include_url=False)
    )
    return f"payload does not match {_type_name(type_)}: {problems}"


def _type_name(type_: Any) -> str:
    return getattr(type_, "__qualname__", None) or repr(type_)
