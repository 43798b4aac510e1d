"""The sample site's documents as texts, and small edits of them, for the flows tests."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ivr.engine import Bundle, load_documents
from ivr.engine.loader import read_folder

SAMPLE_FLOWS = Path(__file__).resolve().parents[2] / "flows"

Edit = Callable[[dict[str, Any]], None]


def sample_texts() -> dict[str, str]:
    """The sample folder's documents, exactly as on disk."""
    return read_folder(SAMPLE_FLOWS)[0]


def edited(texts: dict[str, str], edit: Edit, document: str = "main.json") -> dict[str, str]:
    """The texts with one document parsed, edited in place, and written back (indent 2)."""
    data = copy.deepcopy(json.loads(texts[document]))
    edit(data)
    return texts | {document: json.dumps(data, indent=2, ensure_ascii=False) + "\n"}


def bundle(texts: dict[str, str]) -> Bundle:
    """The texts' bundle (they must be valid)."""
    found, problems = load_documents(texts)
    assert found is not None, [str(p) for p in problems]
    return found


def greeting(text: str) -> Edit:
    """An edit that rewords the main flow's greeting."""

    def edit(flow: dict[str, Any]) -> None:
        flow["nodes"]["greeting"]["prompt"] = text

    return edit
