"""What a person is shown of a process's data: findings about existing clients (the onboarding
conflict check) in full only where the reader may see that client; the others are counted, with
who resolves them, so process data never names a client its reader could not open."""

from __future__ import annotations

from atrium.clients import sees_client, withheld

# Process variables listing findings about existing clients, per process key. Each finding is about
# one client and names its `owner` (atrium/onboarding.py, conflict_findings). The findings are
# kept whole in the process data, for the partner who reviews them, and cut down here for each reader.
CLIENT_FINDINGS: dict[str, tuple[str, ...]] = {"client_onboarding": ("conflicts",)}


def has_client_findings(process_key: str) -> bool:
    """Whether data of `process_key` may need cutting down for a reader (saves looking up whom they see)."""
    return process_key in CLIENT_FINDINGS


def disclosed_findings(findings: list, owners: set[str] | None) -> list:
    """The findings a reader who sees the clients of `owners` (None: all) may read; those about other
    clients become one last entry of kind `withheld` that counts them and says who can look into them.
    A finding that names no owner is shown only to readers of every client."""
    if owners is None:
        return findings
    shown = [
        f for f in findings if isinstance(f, dict) and f.get("owner") is not None and sees_client(owners, f["owner"])
    ]
    hidden = len(findings) - len(shown)
    if hidden:
        shown.append({"kind": "withheld", **withheld(hidden, "possible conflict(s) of interest")})
    return shown


def disclosed_data(process_key: str, data: dict, owners: set[str] | None) -> dict:
    """`data` (a process's variables, or a task's) as a reader who sees the clients of `owners` may read it."""
    names = [name for name in CLIENT_FINDINGS.get(process_key, ()) if isinstance(data.get(name), list)]
    if owners is None or not names:
        return data
    return {**data, **{name: disclosed_findings(data[name], owners) for name in names}}
