"""Masking by role: the one home of how contact data is shown to people whose roles see it masked.

Phones, emails, addresses and the sensitive custom fields (a property of the firm's custom-field JSON
Schema marked `"x-atrium-sensitive": true`) of clients and their contacts are masked for an account all
of whose roles are in ATRIUM_MASKED_ROLES (default `viewer,service_desk`); one role outside it shows them
in full. Every channel that shows a client's contact data to a person goes through here: JSON responses,
exports, notifications read or mailed. The values are masked as storage returns them (decrypted, if a
storage layer encrypts them), so masking composes with protection at rest.

Seeing one masked field of one client in full is an explicit, audited request (`reveal`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium import audit
from atrium.errors import InvalidInput
from storage.accounts import Account
from storage.clients import Client, Contact
from storage.firm_settings import CLIENT_CUSTOM_FIELDS, setting_value

DEFAULT_MASKED_ROLES = ("viewer", "service_desk")
SENSITIVE_KEYWORD = "x-atrium-sensitive"
CONTACT_FIELDS = ("phones", "emails", "addresses")
MASK = "***"
# Address parts kept in a masked address (the street and postcode are masked).
ADDRESS_KEPT = ("label", "city", "region", "country")
REVEAL_REASON_MIN = 10
REVEAL_REASON_MAX = 500


def mask_phone(value: str | None) -> str | None:
    """`138****1234`: the first three and last four digits of a number of eight or more digits; a shorter
    one keeps only its last two. Other characters (spaces, +, dashes) are dropped."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", str(value))
    if len(digits) >= 8:
        return f"{digits[:3]}****{digits[-4:]}"
    return "****" + (digits[-2:] if len(digits) > 2 else "")


def mask_email(value: str | None) -> str | None:
    """`c***@example.com`: the first character of the local part, then the domain."""
    if value is None:
        return None
    local, at, domain = str(value).rpartition("@")
    if not at:
        return MASK
    return f"{local[:1]}{MASK}@{domain}"


def mask_address(value):
    """An address with its street (and postcode) masked; label, city, region and country kept."""
    if not isinstance(value, dict):
        return MASK if value else value
    masked = {}
    for key, part in value.items():
        masked[key] = part if key in ADDRESS_KEPT or not part else MASK
    return masked


def mask_custom_value(value):
    return value if value is None else MASK


def masked_roles_of(settings) -> frozenset[str]:
    roles = getattr(settings, "masked_roles", None)
    return frozenset(DEFAULT_MASKED_ROLES if roles is None else roles)


def sees_masked(roles: Iterable[str], settings) -> bool:
    """Whether an account holding `roles` sees contact data masked: every one of its roles is a masked
    role (an account with no role at all sees masked values)."""
    return not (set(roles) - masked_roles_of(settings))


def sensitive_fields(schema) -> frozenset[str]:
    """The custom fields the firm's custom-field schema marks `"x-atrium-sensitive": true`."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return frozenset()
    return frozenset(
        name for name, spec in properties.items() if isinstance(spec, dict) and spec.get(SENSITIVE_KEYWORD) is True
    )


def firm_sensitive_fields(session: Session) -> frozenset[str]:
    return sensitive_fields(setting_value(session, key=CLIENT_CUSTOM_FIELDS, default={}))


def _masked_values(data: dict, sensitive: Iterable[str]) -> dict:
    masked = dict(data)
    if masked.get("phones") is not None:
        masked["phones"] = [mask_phone(v) for v in masked["phones"]]
    if masked.get("emails") is not None:
        masked["emails"] = [mask_email(v) for v in masked["emails"]]
    if masked.get("addresses") is not None:
        masked["addresses"] = [mask_address(v) for v in masked["addresses"]]
    for key, mask in (("phone", mask_phone), ("email", mask_email)):
        if masked.get(key) is not None:
            masked[key] = mask(masked[key])
    custom = masked.get("custom_fields")
    if isinstance(custom, dict) and sensitive:
        masked["custom_fields"] = {k: mask_custom_value(v) if k in sensitive else v for k, v in custom.items()}
    return masked


def masked_client(data: dict, roles: Iterable[str], settings, *, sensitive: Iterable[str] = ()) -> dict:
    """`data` (a client or a contact as a dict: phones, emails, addresses, custom_fields) as an account
    holding `roles` may see it: a copy with the contact data and the `sensitive` custom fields masked if
    its roles see masked values (settings.masked_roles), else `data` itself."""
    if not sees_masked(roles, settings):
        return data
    return _masked_values(data, frozenset(sensitive))


@dataclass(frozen=True)
class Masking:
    """How one reader sees contact data: `masked` or in full, and which custom fields are sensitive."""

    masked: bool
    sensitive: frozenset[str] = frozenset()

    def client(self, data: dict) -> dict:
        return _masked_values(data, self.sensitive) if self.masked else data

    def masked_fields(self, data: dict) -> list[str]:
        """The fields of `data` (a client as a dict, before masking) this reader sees masked and may
        `reveal`: its non-empty phones, emails and addresses and its sensitive custom fields with a value."""
        if not self.masked:
            return []
        shown = [name for name in CONTACT_FIELDS if data.get(name)]
        custom = data.get("custom_fields")
        if isinstance(custom, dict):
            shown.extend(sorted(name for name, value in custom.items() if name in self.sensitive and value is not None))
        return shown

    def text(self, text: str | None, values: Iterable) -> str | None:
        """`text` with each of `values` (a client's phones, emails, addresses) that occurs in it masked:
        free text written about a client (a notification's body) must not show what its fields hide. A
        phone is found however its digits are spaced or punctuated; emails and streets in any case."""
        if not self.masked or not text:
            return text
        for value in values:
            for pattern, masked in _patterns(value):
                text = pattern.sub(masked, text)
        return text


FULL = Masking(False)


def _patterns(value) -> list[tuple[re.Pattern, str]]:
    if isinstance(value, dict):
        parts = [str(value[p]) for p in value if p not in ADDRESS_KEPT and value.get(p)]
        return [(re.compile(re.escape(part), re.IGNORECASE), MASK) for part in parts if len(part) >= 4]
    value = str(value)
    if "@" in value:
        return [(re.compile(re.escape(value), re.IGNORECASE), mask_email(value))]
    digits = re.sub(r"\D", "", value)
    if len(digits) < 6:
        return []
    # The digits in order, with any spacing or punctuation between them, not inside a longer number.
    spaced = r"[\s().\-/]*".join(digits)
    return [(re.compile(rf"(?<!\d)\+?{spaced}(?!\d)"), lambda _match, masked=mask_phone(value): masked)]


def masking_for(session: Session, roles: Iterable[str], settings) -> Masking:
    """The reader's masking, with the firm's sensitive custom fields read only when it masks."""
    if not sees_masked(roles, settings):
        return FULL
    return Masking(True, firm_sensitive_fields(session))


def contact_values(record) -> list:
    """A client's (or contact's) phones, emails and addresses, for `Masking.text`."""
    get = record.get if isinstance(record, dict) else lambda name: getattr(record, name, None)
    return [*(get("phones") or []), *(get("emails") or []), *(get("addresses") or [])]


def reveal(session: Session, client, *, field: str, reason: str, actor: str) -> dict:
    """The full value of one field of one client, for a reader who sees it masked and says why: audited as
    `client.reveal` with the field and the reason, never the value. `field` is phones, emails, addresses or
    a custom field the firm's schema marks sensitive."""
    reason = (reason or "").strip()
    errors = {}
    if len(reason) < REVEAL_REASON_MIN:
        errors["reason"] = [f"say why, in at least {REVEAL_REASON_MIN} characters"]
    sensitive = firm_sensitive_fields(session)
    if field not in CONTACT_FIELDS and field not in sensitive:
        errors["field"] = [f"must be one of {', '.join(CONTACT_FIELDS)} or a sensitive custom field"]
    if errors:
        raise InvalidInput("cannot reveal this field", errors)
    value = (client.custom_fields or {}).get(field) if field in sensitive else getattr(client, field)
    audit.record(
        session,
        "client.reveal",
        actor=actor,
        target=f"client:{client.id}",
        detail={"field": field, "reason": reason},
    )
    return {"client_id": client.id, "field": field, "value": value}


def notification_text(session: Session, note, roles: Iterable[str], settings) -> tuple[str, str]:
    """A notification's (subject, body) as a reader holding `roles` may see them: one written about a client
    (`client_id`) shows none of that client's or its contacts' phones, emails and street addresses in full
    to a reader who sees them masked, whatever free text (a complaint's description, a request's title)
    carried them."""
    if note.client_id is None or not sees_masked(roles, settings):
        return note.subject, note.body
    client = session.get(Client, note.client_id)
    values = contact_values(client) if client is not None else []
    for contact in session.scalars(select(Contact).where(Contact.client_id == note.client_id)):
        values.extend(contact_values(contact))
    masked = Masking(True)
    return masked.text(note.subject, values), masked.text(note.body, values)


def roles_of(session: Session, usernames: Iterable[str]) -> dict[str, list[str]]:
    """Each named account's roles, by username (a username with no account is left out)."""
    names = set(usernames)
    if not names:
        return {}
    return dict(session.execute(select(Account.username, Account.roles).where(Account.username.in_(names))).all())


def unmasked_input(data: dict, stored, masking: Masking) -> dict:
    """`data` sent to change a record (`stored`, a client or contact) by a reader who sees it masked, with
    each value that is the masked form of a stored one put back to the stored value: sending back what
    a GET showed changes nothing, rather than overwriting phones with `138****1234`."""
    if not masking.masked:
        return data
    data = dict(data)
    for name, mask in (("phones", mask_phone), ("emails", mask_email), ("addresses", mask_address)):
        if name not in data or not isinstance(data[name], list):
            continue
        originals = list(getattr(stored, name, None) or [])
        restored = []
        for item in data[name]:
            match = next((o for o in originals if item != o and mask(o) == item), None)
            if match is not None:
                originals.remove(match)
            restored.append(item if match is None else match)
        data[name] = restored
    custom = data.get("custom_fields")
    stored_custom = getattr(stored, "custom_fields", None) or {}
    if isinstance(custom, dict) and masking.sensitive:
        data["custom_fields"] = {
            key: stored_custom[key] if key in masking.sensitive and value == MASK and key in stored_custom else value
            for key, value in custom.items()
        }
    return data


_PROCESS_MASKS = {
    "phones": mask_phone,
    "phone": mask_phone,
    "emails": mask_email,
    "email": mask_email,
    "addresses": mask_address,
    "address": mask_address,
}


def _masked_process_value(mask, value):
    if isinstance(value, list):
        return [_masked_process_value(mask, item) for item in value]
    if isinstance(value, str) or (mask is mask_address and isinstance(value, dict)):
        return mask(value)
    return masked_process_data(value)


def masked_process_data(data):
    """Process variables or task data with every `phones`, `emails`, `addresses` (and `phone`, `email`,
    `address`) value masked, at any depth: a client's contact data carried by a process (the onboarding
    intake) is shown as the client record shows it."""
    if isinstance(data, dict):
        return {
            key: _masked_process_value(_PROCESS_MASKS[key], value)
            if key in _PROCESS_MASKS
            else masked_process_data(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [masked_process_data(item) for item in data]
    return data
