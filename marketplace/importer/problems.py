"""Problems found in an import file, each with its JSON path, and the refusal that carries them all."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

SECTIONS = ("freelancers", "agencies", "memberships", "clients", "contracts", "top_rated_periods")
CONTRACTS_PER_CHUNK = 1000
WRITE_BATCH = 1000
TOP_LEVEL = "(top level)"
DATABASE = "(database)"


# --- Problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self):
        return f"{self.path}: {self.message}" if self.path else self.message


class ImportRefused(Exception):
    """The file was not imported; `problems` says why, each with its JSON path."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sort_problems(problems)
        super().__init__(self.summary)

    @property
    def summary(self) -> str:
        count = len(self.problems)
        return f"{count} error{'' if count == 1 else 's'}; nothing was imported."


_ITEM_PATH = re.compile(r"^(\w+)(?:\[(\d+)\])?")


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """File order: section by section, item by item (stable, so an item keeps its own order)."""

    def position(problem):
        match = _ITEM_PATH.match(problem.path)
        if match and match[1] in SECTIONS:
            return SECTIONS.index(match[1]) + 1, int(match[2]) if match[2] else -1
        return 0, 0

    return sorted(problems, key=position)


def _key_path(path: str, name: str) -> str:
    return f"{path}.{name}" if re.fullmatch(r"\w+", name) else f"{path}[{json.dumps(name)}]"
