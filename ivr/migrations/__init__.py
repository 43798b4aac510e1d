"""Alembic migrations shipped inside the package, and the commands that apply them."""
