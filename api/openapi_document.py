"""Writes the OpenAPI document to a file, without a database or a server: `make web` turns it
into the browser app's TypeScript types, so a changed endpoint breaks the app's build."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def write_openapi(path: Path) -> None:
    from atrium.settings import Settings

    from .app import create_app

    with tempfile.TemporaryDirectory() as scratch:
        # The document does not depend on the database; a throwaway SQLite URL keeps this offline.
        settings = Settings(database_url=f"sqlite:///{scratch}/openapi.db")
        app = create_app(settings)
        with app.test_request_context():
            document = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    path.write_text(json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_openapi(Path(sys.argv[1]))
