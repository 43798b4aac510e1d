"""Local secrets in the instance folder: private, stable, never empty."""

from __future__ import annotations

import stat

from ivr.config import instance_secret


def test_instance_secret_is_private_stable_and_never_empty(tmp_path):
    first = instance_secret(str(tmp_path), "secret_key")
    assert len(first) == 64
    assert instance_secret(str(tmp_path), "secret_key") == first
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    (tmp_path / "secret_key").write_text("")  # as a crash between create and write would leave it
    again = instance_secret(str(tmp_path), "secret_key")
    assert len(again) == 64 and again != first
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary files left
