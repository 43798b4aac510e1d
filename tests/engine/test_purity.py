"""The engine is pure: importing it loads no web framework, database layer or Twilio code."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("flask", "werkzeug", "sqlalchemy", "twilio", "psycopg")


def test_engine_imports_no_flask_sqlalchemy_or_twilio() -> None:
    code = "import sys, ivr.engine; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "ivr" in loaded
    assert [name for name in FORBIDDEN if name in loaded] == []
