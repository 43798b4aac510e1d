"""Published site versions: what callers hear, and which version each call is pinned to."""
