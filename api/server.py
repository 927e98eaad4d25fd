"""`atrium serve`: gunicorn (a production WSGI server) running the app, each worker firing timers unless
ATRIUM_RUN_SCHEDULER=false (`--no-scheduler`): then separate `atrium scheduler` processes do."""

from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication

from atrium.settings import Settings


class AtriumServer(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        import logging

        from .app import create_app

        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        logging.getLogger("atrium.requests").setLevel(logging.INFO)
        # Every worker polls for due timers (row locks make sure each fires once), unless the node only serves.
        return create_app(self.settings, run_scheduler=self.settings.run_scheduler)


def serve(settings: Settings, *, host: str, port: int, workers: int | None = None) -> None:
    options = {
        "bind": f"{host}:{port}",
        "workers": workers or int(os.environ.get("ATRIUM_WORKERS", "2")),
        "worker_class": "gthread",
        "threads": int(os.environ.get("ATRIUM_THREADS", "4")),
        "accesslog": None,  # the app logs each request as a JSON line with its request id
        "timeout": 60,
    }
    AtriumServer(settings, options).run()
