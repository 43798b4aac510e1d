"""Problems found in flow and site files, each naming its file, node and field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One error in a flow or site file."""

    file: str
    node: str | None
    field: str | None
    message: str

    def sort_key(self) -> tuple[str, str, str, str]:
        """Order by file, node, field and message; the file-level problems of a file come first."""
        return (self.file, self.node or "", self.field or "", self.message)

    def __str__(self) -> str:
        where = [self.file]
        if self.node:
            where.append(f"node '{self.node}'")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{': '.join(where)}: {self.message}"

    def as_dict(self) -> dict[str, str | None]:
        """The problem as JSON-ready data."""
        return {"file": self.file, "node": self.node, "field": self.field, "message": self.message}
