"""Object storage I/O: a warehouse at `s3://bucket/prefix` on any S3-compatible store.

Configured by the standard variables, read by every library that touches the store (deltalake,
Polars, obstore) and turned into a DuckDB secret here: AWS_ENDPOINT_URL (omit for AWS itself),
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, and AWS_ALLOW_HTTP=true for a plain-HTTP
endpoint. Delta tables go through deltalake; the few plain objects paperfeed keeps there (the raw
archive's files, the writer's lease) through obstore, the Python binding of the same Rust
`object_store` crate deltalake uses. An object PUT is atomic: readers see the old bytes or the
new ones, so no scratch name is needed; `create` and `replace` are conditional writes (If-None-Match
and If-Match), what the lease's compare-and-swap rests on.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from obstore.store import S3Store

SCHEME = "s3://"
T = TypeVar("T")


class ObjectStoreError(RuntimeError):
    """The object store cannot be used as configured; the message says why."""


def is_remote(location: str) -> bool:
    return location.startswith(SCHEME)


@dataclass(frozen=True)
class Tagged:
    """An object's bytes and the entity tag a conditional write names to replace exactly them."""

    data: bytes
    tag: str


@dataclass(frozen=True)
class S3Prefix:
    """Objects under one prefix of one bucket (`s3://bucket/prefix`); keys are relative to it."""

    url: str

    @classmethod
    def parse(cls, url: str) -> S3Prefix:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ObjectStoreError(f"{url} is not an s3://bucket/prefix address")
        missing = [name for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not os.environ.get(name)]
        if missing:
            raise ObjectStoreError(f"warehouse {url} is on object storage, but {' and '.join(missing)} is not set")
        return cls(url.rstrip("/"))

    @property
    def bucket(self) -> str:
        return urlsplit(self.url).netloc

    def uri(self, key: str) -> str:
        return f"{self.url}/{key}"

    @cached_property
    def store(self) -> S3Store:
        from obstore.store import S3Store

        return S3Store.from_url(self.url)

    def size(self, key: str) -> int | None:
        """The object's size in bytes; None if there is none."""
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            return int(self._reachable(lambda: obstore.head(self.store, key))["size"])
        except (NotFoundError, FileNotFoundError):
            return None

    def get(self, key: str) -> Tagged | None:
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            result = self._reachable(lambda: obstore.get(self.store, key))
        except (NotFoundError, FileNotFoundError):
            return None
        return Tagged(bytes(result.bytes()), str(result.meta["e_tag"]))

    def put(self, key: str, data: bytes) -> None:
        import obstore

        self._reachable(lambda: obstore.put(self.store, key, data))

    def create(self, key: str, data: bytes) -> str | None:
        """Write the object only if there is none; its tag, or None if one exists."""
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            return str(self._reachable(lambda: obstore.put(self.store, key, data, mode="create"))["e_tag"])
        except (AlreadyExistsError, PreconditionError):
            return None

    def replace(self, key: str, data: bytes, tag: str) -> str | None:
        """Write the object only if it still has `tag`; its new tag, or None if it changed."""
        import obstore
        from obstore.exceptions import NotFoundError, PreconditionError

        try:
            return str(self._reachable(lambda: obstore.put(self.store, key, data, mode={"e_tag": tag}))["e_tag"])
        except (PreconditionError, NotFoundError, FileNotFoundError):
            return None

    def copy(self, source: str, target: str) -> None:
        """Copy an object inside the store (no bytes through this process)."""
        import obstore

        self._reachable(lambda: obstore.copy(self.store, source, target))

    def listing(self) -> list[tuple[str, dt.datetime, int]]:
        """Every object under the prefix: key, when it was last written, bytes."""
        import obstore

        return self._reachable(
            lambda: [(m["path"], m["last_modified"], int(m["size"])) for batch in obstore.list(self.store) for m in batch]
        )

    def keys(self, prefix: str = "") -> list[str]:
        import obstore

        return self._reachable(lambda: [meta["path"] for batch in obstore.list(self.store, prefix or None) for meta in batch])

    def delete_all(self, prefix: str) -> None:
        """Delete every object under `prefix/` (a table no run committed)."""
        import obstore

        keys = self.keys(prefix.rstrip("/") + "/")
        if keys:
            self._reachable(lambda: obstore.delete(self.store, keys))

    def _reachable(self, call: Callable[[], T]) -> T:
        """call(); a store that cannot be reached or refuses is an ObjectStoreError in one line
        (obstore's errors carry a page of debug output). A failed condition or a missing object
        stays what it is: the caller's answer."""
        from obstore.exceptions import AlreadyExistsError, BaseError, NotFoundError, PreconditionError

        try:
            return call()
        except (AlreadyExistsError, PreconditionError, NotFoundError, FileNotFoundError):
            raise
        except (BaseError, OSError) as error:
            raise ObjectStoreError(f"object store {self.url}: {in_one_line(error)}") from None


def in_one_line(error: BaseException) -> str:
    """A store error in one line: obstore's and deltalake's messages carry a page of debug
    output or a chain of causes (with colour codes); the first line says what failed, the last
    why (`Generic S3 error: Error performing GET … Connection refused (os error 111)`)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).split("\nDebug source:")[0]
    lines = [line.strip().lstrip("↳").strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return type(error).__name__
    if len(lines) == 1:
        return lines[0]
    request = re.search(r"\b((?:GET|PUT|HEAD|POST|DELETE) \S+)", text)  # which object it failed on
    return f"{lines[0]}{f' ({request.group(1)})' if request else ''} … {lines[-1]}"


def read_object(uri: str) -> bytes:
    """The bytes of the object at `s3://bucket/key`; ObjectStoreError if it is not there. The key
    is everything after the bucket, as it is (a key may hold '#' or '?', which are no URL's parts here)."""
    bucket, _, key = uri.removeprefix(SCHEME).partition("/")
    found = S3Prefix.parse(f"{SCHEME}{bucket}").get(key)
    if found is None:
        raise ObjectStoreError(f"{uri} is not there (any more)")
    return found.data


def duckdb_secret_sql() -> str:
    """CREATE SECRET for DuckDB's httpfs from the same variables (path-style addresses: what an
    S3-compatible store on its own host name understands)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    parts = urlsplit(endpoint) if endpoint else None
    options = {
        "TYPE": "s3",
        "KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", ""),
        "SECRET": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        "REGION": os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
    }
    if os.environ.get("AWS_SESSION_TOKEN"):  # temporary credentials (an assumed role)
        options["SESSION_TOKEN"] = os.environ["AWS_SESSION_TOKEN"]
    if parts is not None:
        options |= {"ENDPOINT": parts.netloc, "URL_STYLE": "path", "USE_SSL": "true" if parts.scheme == "https" else "false"}
    rendered = ", ".join(f"{k} {v}" if v in ("true", "false") or k == "TYPE" else f"{k} '{_quote(v)}'" for k, v in options.items())
    return f"CREATE OR REPLACE SECRET paperfeed_s3 ({rendered})"


def _quote(text: str) -> str:
    return text.replace("'", "''")
