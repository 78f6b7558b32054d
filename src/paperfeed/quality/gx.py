"""Great Expectations, the engine of the quality gates: the suites in expectations/*.json, each
validated against a frame.

The only module that imports great_expectations, and only when something is to be validated (or
`prewarm` asks for it early): the import costs seconds. One in-memory GX context per process holds
every suite; each run validates through it. GX validates pandas, not Polars, so frames cross over
through Arrow here. Nothing is written to disk: the run report shows every check. Frames are
validated by GX's `Validator` (what `Batch.validate` builds for each call), not by
`ValidationDefinition.run`, which would also keep every result in the context's results store: a
process that validates batch after batch (a backfill, `serve`) would hold all of them.
"""

from __future__ import annotations

import json
import math
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from paperfeed.quality.findings import Check, Failure, GateError, SuiteReport

SUITES_ENV = "PAPERFEED_EXPECTATIONS"
# Where a failed row-level expectation lists all its rows (the record gate sets each one aside)
# or only the first few (enough for the message of a publish gate failure).
ALL_ROWS, SOME_ROWS = "COMPLETE", "SUMMARY"
# Outcomes and counts only, no rows: what a suite that passes needs, and cheaper (a run's nine
# suites on the sample: 1.1 s against 1.8 s). A suite that fails is validated again for its rows.
NO_ROWS = "BASIC"


def suites_dir() -> Path:
    """expectations/ of this checkout (installed as the package `paperfeed_expectations`),
    unless PAPERFEED_EXPECTATIONS names another folder."""
    override = os.environ.get(SUITES_ENV)
    return Path(override) if override else Path(str(resources.files("paperfeed_expectations")))


@dataclass(frozen=True)
class _Suite:
    """A suite and the batch definition (a pandas frame, whole) it validates."""

    expectations: Any
    batch: Any


@dataclass(frozen=True)
class _Suites:
    """One GX context with each suite of one folder."""

    definitions: dict[str, _Suite]
    positions: dict[str, dict[str, int]]  # suite -> expectation id -> place in the file
    # GX's Validator class, imported with the rest of GX by _load: an import of it in validate()
    # could meet `prewarm`'s thread importing GX and fail (Python's "deadlock detected" ImportError).
    validator: Any


_lock = threading.Lock()
# One validation at a time in a process: GX names a suite's batch by the suite ("paperfeed-papers"),
# whatever frame it holds, in an execution engine all validations share, so two threads validating
# one suite (a Dask worker with --nthreads 2) read each other's frames and got each other's verdicts.
_validating = threading.Lock()
_loaded: dict[tuple[str, tuple[tuple[str, int], ...]], _Suites] = {}


def _suites() -> _Suites:
    """The suites of suites_dir(), loaded once per process (again when a suite file changes)."""
    folder = suites_dir()
    files = sorted(folder.glob("*.json"))
    key = (str(folder.resolve()), tuple((f.name, f.stat().st_mtime_ns) for f in files))
    with _lock:
        if key not in _loaded:
            _loaded[key] = _load(files)
        return _loaded[key]


def _load(files: list[Path]) -> _Suites:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    _memoise_configurations()
    _plain_ids_as_they_are()
    context = gx.get_context(mode="ephemeral", project_config=config)
    source = context.data_sources.add_pandas("paperfeed")
    definitions, positions = {}, {}
    for path in files:
        suite = context.suites.add(load_suite(path))
        positions[path.stem] = {str(e.id): i for i, e in enumerate(suite.expectations)}
        batch = source.add_dataframe_asset(path.stem).add_batch_definition_whole_dataframe("whole")
        definitions[path.stem] = _Suite(suite, batch)
    from great_expectations.validator.v1_validator import Validator

    return _Suites(definitions, positions, Validator)


def suites_loaded() -> None:
    """Import Great Expectations and load the suites now (what the first validation would do)."""
    _suites()


def prewarm() -> threading.Thread:
    """Import Great Expectations and load the suites in the background (while the orchestrator
    starts, say); a validation that comes first waits for it."""
    thread = threading.Thread(target=suites_loaded, name="paperfeed-gx-prewarm", daemon=True)
    thread.start()
    return thread


class QualityGate:
    """The gate as Great Expectations runs it: validates frames against the suites."""

    def validate(self, suite: str, frame: pl.DataFrame, all_rows: bool = True) -> SuiteReport:
        """Every expectation of `suite` against `frame`. With `all_rows`, a failed row-level
        expectation lists every failing row; otherwise the first few and how many."""
        suites = _suites()
        if suite not in suites.definitions:
            raise GateError(f"no suite {suite!r} in {suites_dir()} (have {sorted(suites.definitions)})")
        pandas_frame = frame.to_pandas()
        with _validating, warnings.catch_warnings():
            # GX 1.24 calls pandas APIs that pandas 3 deprecates; not ours to fix, not the operator's to read.
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
            result = _validated(suites.validator, suites.definitions[suite], pandas_frame, ALL_ROWS if all_rows else SOME_ROWS)
        places = suites.positions[suite]
        failures, checks = [], []
        for outcome in result.results:
            config = outcome.expectation_config
            errors = _errors(outcome.exception_info)
            if errors:
                raise GateError(f"suite {suite!r}: {config.type} could not be evaluated: {errors[0]}")
            found = outcome.to_json_dict().get("result") or {}
            rows = found.get("unexpected_index_list", found.get("partial_unexpected_index_list"))
            row_level = "unexpected_count" in found or rows is not None
            position = places.get(str(config.id), len(places))
            column = (
                config.kwargs.get("column")
                or config.kwargs.get("column_A")
                or ", ".join(config.kwargs.get("column_list") or [])
                or None
            )
            check = Check(
                suite=suite,
                expectation=config.type,
                column=column,
                description=config.description or config.type,
                success=bool(outcome.success),
                unexpected=int(found.get("unexpected_count") or len(rows or [])) if row_level else None,
                observed=None if row_level else json.dumps(found.get("observed_value"), default=str),
            )
            checks.append((position, check))
            if not check.success:
                failures.append(Failure(check, position, [int(r) for r in rows or []] if row_level else None))
        return SuiteReport(
            suite,
            len(result.results),
            sorted(failures, key=lambda f: f.position),
            [check for _, check in sorted(checks, key=lambda pair: pair[0])],
        )


def _validated(validator_class: Any, definition: _Suite, frame: Any, detail: str) -> Any:
    """The suite's result on a pandas frame: outcomes and counts, and if it fails, the failing rows
    as `detail` asks. One validator for both passes: it gets the batch (a pandas copy of the frame,
    hashed for its id) once; `Batch.validate` would get it again for each pass."""
    validator = validator_class(definition.batch, result_format={"result_format": NO_ROWS}, batch_parameters={"dataframe": frame})
    try:
        with _configurations_built_once():
            result = validator.validate_expectation_suite(definition.expectations)
        if not result.success:
            validator.result_format = {"result_format": detail}
            with _configurations_built_once():
                result = validator.validate_expectation_suite(definition.expectations)
        return result
    finally:
        _forget(validator)


def _forget(validator: Any) -> None:
    """Drop a validator's batch from its execution engine's caches. GX keeps each asset's last batch
    there, its pandas copy of the frame with it, for the life of the process: in a backfill, the
    frames of the last batch's validations (about 210 MiB for a 64 MB batch) between batches."""
    built = validator._wrapped_validator_cache  # None if the batch was never got (nothing cached)
    if built is None:
        return
    manager = built.execution_engine.batch_manager
    manager.batch_data_cache.pop(built.active_batch_id, None)
    manager.batch_cache.pop(built.active_batch_id, None)


# GX 1.24 rebuilds an expectation's configuration (a pydantic `.dict()` and a new
# ExpectationConfiguration) each time it reads one of the expectation's kwargs: about 55 times per
# expectation per validation, a third of a run's validation time (0.5 of 1.5 s on the sample).
# Inside a validation each expectation is a fresh object that nothing changes (`graph_validate`
# makes it from its configuration and only reads it), so within one validation, on one thread, each
# is built once. Outside one, and on other threads, GX's own property runs unchanged.
_memo = threading.local()


def _memoise_configurations() -> None:
    from great_expectations.expectations.expectation import Expectation

    built = Expectation.configuration
    if not isinstance(built, property) or built.fget is None or hasattr(built.fget, "paperfeed_memo"):
        return  # already memoised (or a GX whose configuration is no longer a property)
    build = built.fget

    def configuration(self: Any) -> Any:
        memo: dict[int, tuple[Any, Any]] | None = getattr(_memo, "configurations", None)
        if memo is None:
            return build(self)
        if id(self) not in memo:
            memo[id(self)] = (self, build(self))  # the object is kept, so its id is not reused meanwhile
        return memo[id(self)][1]

    configuration.paperfeed_memo = True
    Expectation.configuration = property(configuration, doc=built.__doc__)


# GX names each metric it computes by an id: the md5 of its kwargs as JSON, after
# `convert_to_json_serializable` has made them JSON-able. That conversion walks every value through
# a chain of checks (pydantic, numpy dtypes, pandas) even when the value is a plain str, int or
# None, which nearly all are: about 250 ids per validation, a sixth of a run's validation time.
# Kwargs that are plain JSON values already convert to themselves, so they go to json.dumps as they
# are and give the same id; anything else (a NaN, a set, a numpy scalar, ...) is converted by GX.
def _plain_ids_as_they_are() -> None:
    from great_expectations.core import id_dict

    convert = getattr(id_dict, "convert_to_json_serializable")  # noqa: B009 (not re-exported: mypy)
    if hasattr(convert, "paperfeed_plain"):
        return

    def converted(data: Any) -> Any:
        return data if _is_plain(data, id_dict.IDDict) else convert(data=data)

    converted.paperfeed_plain = True  # type: ignore[attr-defined]
    setattr(id_dict, "convert_to_json_serializable", converted)  # noqa: B010


def _is_plain(value: Any, id_dict_type: type) -> bool:
    """Whether GX's conversion returns the value as it is, up to tuples made lists (the same JSON):
    str, int, bool, None, a float that is not NaN (GX makes NaN None), and lists, tuples and
    str-keyed dicts of them. Exact types: a subclass (an Enum, a numpy scalar) may convert to another value."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return not math.isnan(value)
    if kind is list or kind is tuple:
        return all(_is_plain(item, id_dict_type) for item in value)
    if kind is dict or kind is id_dict_type:
        return all(type(key) is str and _is_plain(item, id_dict_type) for key, item in value.items())
    return False


@contextmanager
def _configurations_built_once() -> Iterator[None]:
    _memo.configurations = {}
    try:
        yield
    finally:
        _memo.configurations = None


def load_suite(path: Path) -> Any:
    """A suite from its JSON file; a typo in an expectation's type is an error, not a silent drop."""
    import great_expectations as gx

    raw = json.loads(path.read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(**raw)
    if len(suite.expectations) != len(raw.get("expectations", [])):
        raise GateError(f"{path}: some expectations are not known to Great Expectations (check their 'type')")
    return suite


def _errors(info: dict[str, Any] | None) -> list[str]:
    """Exception messages of an expectation that could not run (GX reports them in two shapes)."""
    info = info or {}
    if info.get("raised_exception"):
        return [str(info.get("exception_message"))]
    return [
        str(value.get("exception_message"))
        for value in info.values()
        if isinstance(value, dict) and value.get("raised_exception")
    ]
