"""Clients that start or stop processes, wired into their endpoints: an active client keeps one
`follow_up` cycle, which ends when it stops being active or is deleted. (New service requests and
complaints start their processes in atrium.service_requests and atrium.complaints, which record them.)"""
from __future__ import annotations

from atrium import follow_up_cycles

from . import clients


def _keep_follow_up_cycle(session, client, actor) -> None:
    follow_up_cycles.sync_cycle(clients.process_engine(), session, client, actor=actor)


def _end_follow_up_cycle(session, client, actor) -> None:
    follow_up_cycles.sync_cycle(clients.process_engine(), session, client, actor=actor, deleting=True)


clients.after_save.append(_keep_follow_up_cycle)
clients.before_delete.append(_end_follow_up_cycle)
