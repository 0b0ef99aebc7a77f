"""The write-up's headline claims (``headline = true`` in claims.toml), as the landing
page lists them: one entry per claim as written, with the verdicts it makes (one per
``for_each`` value)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..spec.schemas import expand


@dataclass
class HeadlineClaim:
    """A claim of claims.toml marked ``headline = true``: its quote and the ids of the
    verdicts it makes (one per ``for_each`` value), each with its value's label."""

    quote: str
    members: list[tuple[str, str]]  # (verdict id, label)


def headline_claims(folder: Path | None) -> list[HeadlineClaim] | None:
    """The claims marked ``headline = true``, in the file's order; None when the claims
    file cannot be read."""
    if folder is None:
        return None
    try:  # validated when the suite loaded; only its layout (for_each groups) is read here
        data = tomllib.loads((folder / "claims.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    out = []
    for raw in data.get("claim", []):
        if raw.get("headline") is True:
            base = raw["quote"]
            out.append(HeadlineClaim(base, [  # expand() adds " [factor = value]"
                (c["id"], c["quote"][len(base) + 2:-1] if "for_each" in raw else "")
                for c in expand(raw)]))
    return out
