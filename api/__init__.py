"""HTTP interface: the Flask application factory and its blueprints."""

from .app import create_app  # noqa: F401
