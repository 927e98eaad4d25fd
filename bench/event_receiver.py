"""A webhook receiver for the fault bench: a real HTTP endpoint on 127.0.0.1 that checks each delivery's
signature and keeps the envelopes, and the check made afterwards that every client's events arrived, each
once at least, in their order, with no gap (bench/faults.py)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import text

from atrium.webhooks import verify


class EventReceiver:
    def __init__(self):
        self.secret = ""
        self.received: list[dict] = []  # in arrival order, repeats included
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                good = verify(receiver.secret, self.headers.get("Atrium-Signature", ""), body, now=time.time())
                with receiver.lock:
                    if good:
                        receiver.received.append(json.loads(body))
                    else:
                        receiver.bad_signatures += 1
                self.send_response(200 if good else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/atrium"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for_deliveries(self, db, timeout: float = 120.0) -> int:
        """Wait until no delivery is pending; returns how many still are (dead ones count as missing below)."""
        give_up = time.time() + timeout
        while True:
            with db.connect() as conn:
                pending = conn.execute(
                    text("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
                ).scalar()
            if not pending or time.time() > give_up:
                return pending
            time.sleep(1)

    def check(self, db) -> dict:
        """Each client's events as the database numbers them against what arrived: every one arrived, and the
        first arrival of each came after the first arrival of the one before it (order per client)."""
        with db.connect() as conn:
            written = conn.execute(
                text("SELECT aggregate_id, max(sequence) FROM events WHERE aggregate_type = 'client' GROUP BY 1")
            ).all()
        first_seen: dict[tuple[str, int], int] = {}
        ids = set()
        for at, event in enumerate(self.received):
            ids.add(event["id"])
            key = (event["aggregate"]["id"], event["aggregate"]["sequence"])
            first_seen.setdefault(key, at)
        missing, out_of_order = [], []
        for aggregate_id, last in written:
            for sequence in range(1, last + 1):
                if (aggregate_id, sequence) not in first_seen:
                    missing.append((aggregate_id, sequence))
                elif sequence > 1 and (aggregate_id, sequence - 1) in first_seen:
                    if first_seen[(aggregate_id, sequence)] < first_seen[(aggregate_id, sequence - 1)]:
                        out_of_order.append((aggregate_id, sequence))
        return {
            "events_written": sum(last for _, last in written),
            "events_received": len(ids),
            "events_received_again": len(self.received) - len(ids),
            "events_missing": missing,
            "events_out_of_order": out_of_order,
            "bad_signatures": self.bad_signatures,
        }
