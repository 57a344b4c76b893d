"""The marketplace's JSON export, loaded all or nothing (the format: docs/marketplace-import.md).

Three steps. `parse` turns the text into Python values. Two pure checks collect every problem, each
with its JSON path: `read_document` looks at the file alone, `check_against_database` at the file and
a plain snapshot (`Known`) of the rows the database already holds under the same keys. Only when
both find nothing does `load_marketplace` write, in one transaction, with bulk queries; a database
refusal at that point rolls everything back and is reported like any other problem.

The package follows those steps: ``problems`` (what a refusal carries), ``fields`` (parsing and each field's
value), ``reading`` (step 1), ``checking`` (step 2), ``writing`` (step 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import DataError, IntegrityError, transaction

from marketplace.importer.checking import (
    Known,
    KnownContract,
    KnownFeedback,
    KnownPeriod,
    KnownUser,
    check_against_database,
)
from marketplace.importer.fields import parse, read_file
from marketplace.importer.problems import DATABASE, TOP_LEVEL, ImportRefused, Problem, sort_problems
from marketplace.importer.reading import Document, Record, read_document
from marketplace.importer.writing import ProgressCallback, Summary, Tally, _DryRun, _Existing, _write, describe_refusal

__all__ = [
    "DATABASE",
    "TOP_LEVEL",
    "Document",
    "ImportRefused",
    "Known",
    "KnownContract",
    "KnownFeedback",
    "KnownPeriod",
    "KnownUser",
    "Problem",
    "Record",
    "Summary",
    "Tally",
    "check_against_database",
    "describe_refusal",
    "load_marketplace",
    "load_marketplace_file",
    "parse",
    "read_document",
    "read_file",
    "sort_problems",
]


def load_marketplace(data: Any, *, dry_run: bool = False, progress: ProgressCallback | None = None) -> Summary:
    """Check `data` (parsed JSON) completely, then write it all in one transaction, or nothing.

    Raises ImportRefused with every problem found; `dry_run` checks and writes, then rolls back."""
    doc = read_document(data)
    try:
        with transaction.atomic():
            existing = _Existing.fetch(doc)
            problems = doc.problems + check_against_database(doc, existing.known())
            if problems:
                raise ImportRefused(problems)
            summary = _write(doc, existing, progress)
            if dry_run:
                summary.dry_run = True
                raise _DryRun(summary)
    except _DryRun as rolled_back:
        return rolled_back.summary
    except (IntegrityError, DataError) as exc:
        raise ImportRefused([describe_refusal(exc)]) from exc
    return summary


def load_marketplace_file(path: str | Path, **options) -> Summary:
    return load_marketplace(read_file(path), **options)
