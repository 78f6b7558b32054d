"""Great Expectations I/O: suites from expectations/*.json, validation, Data Docs in the warehouse.

The only module that imports great_expectations, and only when a gate is opened: the import costs
about 4 s. GX validates pandas, not Polars, so frames cross over through Arrow here. Validation
results and the Data Docs site live in `<warehouse>/quality/`; each run adds its pages.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from paperfeed.quality.checks import Check, Failure, GateError, SuiteReport

QUALITY_DIR = "quality"
SUITES_ENV = "PAPERFEED_EXPECTATIONS"


def suites_dir() -> Path:
    """expectations/ of this checkout (installed as the package `paperfeed_expectations`),
    unless PAPERFEED_EXPECTATIONS names another folder."""
    override = os.environ.get(SUITES_ENV)
    return Path(override) if override else Path(str(resources.files("paperfeed_expectations")))


def suite_names() -> list[str]:
    return sorted(path.stem for path in suites_dir().glob("*.json"))


class QualityGate:
    """One run's Great Expectations context: validates frames against the suites on disk.

    Nothing is imported or created until the first validation, so a run with nothing new to
    check does not pay for Great Expectations at all.
    """

    def __init__(self, warehouse: Path, run_id: str, started_at: dt.datetime) -> None:
        self.run_id = run_id
        self.started_at = started_at
        self.quality_dir = warehouse / QUALITY_DIR
        self.docs_dir = self.quality_dir / "docs"
        self._context: Any = None
        self._definitions: dict[str, Any] = {}
        self._positions: dict[str, dict[str, int]] = {}  # suite -> expectation id -> place in the file

    @property
    def used(self) -> bool:
        return self._context is not None

    def _open(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            data_docs_sites={
                "paperfeed": {
                    "class_name": "SiteBuilder",
                    "show_how_to_buttons": False,
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.docs_dir)},
                }
            },
            progress_bars=ProgressBarsConfig(globally=False),
            analytics_enabled=False,
        )
        # Results kept on disk, so each run's pages survive the next run's docs build.
        config.stores["validation_results_store"]["store_backend"] = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(self.quality_dir / "results"),
        }
        context = gx.get_context(mode="ephemeral", project_config=config)
        source = context.data_sources.add_pandas("paperfeed")
        for name in suite_names():
            suite = context.suites.add(load_suite(suites_dir() / f"{name}.json"))
            self._positions[name] = {str(e.id): i for i, e in enumerate(suite.expectations)}
            batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
            self._definitions[name] = context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite)
            )
        self._context = context

    def validate(self, suite: str, frame: pl.DataFrame) -> SuiteReport:
        import great_expectations as gx

        if not self.used:
            self._open()
        if suite not in self._definitions:
            raise GateError(f"no suite {suite!r} in {suites_dir()} (have {sorted(self._definitions)})")
        with warnings.catch_warnings():
            # GX 1.24 calls pandas APIs that pandas 3 deprecates; not ours to fix, not the operator's to read.
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
            result = self._definitions[suite].run(
                batch_parameters={"dataframe": frame.to_pandas()},
                result_format={"result_format": "COMPLETE"},
                # With no run_time, GX parses the run name as a date, and a name like
                # '...-6055a04a' reads as an impossible UTC offset: the run would crash.
                run_id=gx.RunIdentifier(run_name=self.run_id, run_time=self.started_at),
            )
        failures, checks = [], []
        for outcome in result.results:
            config = outcome.expectation_config
            errors = _errors(outcome.exception_info)
            if errors:
                raise GateError(f"suite {suite!r}: {config.type} could not be evaluated: {errors[0]}")
            found = outcome.to_json_dict().get("result") or {}
            rows = found.get("unexpected_index_list")
            position = self._positions[suite].get(str(config.id), len(self._positions[suite]))
            column = config.kwargs.get("column") or config.kwargs.get("column_A") or ", ".join(config.kwargs.get("column_list") or []) or None
            observed = None if rows is not None else json.dumps(found.get("observed_value"), default=str)
            checks.append((
                position,
                Check(
                    suite, config.type, column, config.description or config.type, bool(outcome.success),
                    len(rows) if rows is not None else None, observed,
                ),
            ))
            if outcome.success:
                continue
            failures.append(
                Failure(
                    position=position,
                    expectation=config.type,
                    column=column,
                    description=config.description or config.type,
                    rows=[int(r) for r in rows] if rows is not None else None,
                    observed=observed,
                )
            )
        return SuiteReport(
            suite,
            len(result.results),
            sorted(failures, key=lambda f: f.position),
            [check for _, check in sorted(checks, key=lambda pair: pair[0])],
        )

    def build_docs(self) -> Path | None:
        """Render this run's Data Docs pages and the site index; return the index page, if anything
        was checked. Only this run's pages are rendered: a full rebuild grows with every run."""
        if not self.used:
            return None
        store = self._context.validation_results_store
        ours = [key for key in store.list_keys() if key.run_id.run_name == self.run_id]
        self._context.build_data_docs(site_names=["paperfeed"], resource_identifiers=ours)
        return self.docs_dir / "index.html"


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
