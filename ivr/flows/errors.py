"""The one answer when nothing is published yet, for the pages, the API and the command line."""

from __future__ import annotations


class NothingPublished(ValueError):
    """No site version is published yet: there are no flows and no desks."""

    MESSAGE = "no flows are published yet, so no desk exists: run `ivr flows publish`"
    STATUS = 503  # the service cannot answer this until a version is published

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)
