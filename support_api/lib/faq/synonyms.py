"""The editable synonym list (synonyms.yaml beside this file): query expansion for FAQ search.

Each group's terms are tokenised like any text (lib/faq/tokenize.py), so a group entry is a
sequence of search terms. A query whose terms contain one entry as a contiguous run is also
matched against the other entries of its group (lib/faq/index.py says how they are scored);
articles are indexed as written. Expanding only queries keeps the index independent of the
list, and a group is symmetric by construction.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from support_api.lib.faq.tokenize import terms

Entry = tuple[str, ...]


def load(path: Path | None = None) -> list[list[Entry]]:
    """The groups of `path` (default: the packaged synonyms.yaml) as term sequences."""
    raw = path.read_text("utf-8") if path else resources.files(__package__).joinpath("synonyms.yaml").read_text("utf-8")
    groups = []
    for group in (yaml.safe_load(raw) or {}).get("groups", []):
        entries = list(dict.fromkeys(tuple(terms(str(term))) for term in group))
        entries = [entry for entry in entries if entry]
        if len(entries) > 1:
            groups.append(entries)
    return groups


@lru_cache(maxsize=1)
def default_groups() -> tuple[tuple[Entry, ...], ...]:
    return tuple(tuple(group) for group in load())


def _contains(seq: list[str], entry: Entry) -> bool:
    n = len(entry)
    return any(tuple(seq[i:i + n]) == entry for i in range(len(seq) - n + 1))


@lru_cache(maxsize=1)
def _by_first_term() -> dict[str, list[tuple[int, Entry]]]:
    """Each entry under its first term, so a query looks up only the entries its words start."""
    table: dict[str, list[tuple[int, Entry]]] = {}
    for number, group in enumerate(default_groups()):
        for entry in group:
            table.setdefault(entry[0], []).append((number, entry))
    return table


def alternatives(query_terms: list[str]) -> list[tuple[list[Entry], list[Entry]]]:
    """For each group with an entry in `query_terms`: (the entries found, the other entries)."""
    groups = default_groups()
    found: dict[int, list[Entry]] = {}
    table = _by_first_term()
    for term in dict.fromkeys(query_terms):
        for number, entry in table.get(term, ()):
            if entry not in found.get(number, []) and _contains(query_terms, entry):
                found.setdefault(number, []).append(entry)
    return [(entries, [e for e in groups[number] if e not in entries]) for number, entries in sorted(found.items())]
