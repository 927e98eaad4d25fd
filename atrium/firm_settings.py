"""Per-firm settings: changing one is audited (`settings.<name>`) in the change's transaction."""

from __future__ import annotations

import jsonschema
from sqlalchemy.orm import Session

from atrium import audit, clock
from atrium.errors import InvalidInput
from storage.firm_settings import CLIENT_CUSTOM_FIELDS, FirmSetting, setting_value


def set_client_custom_fields(session: Session, schema: dict, *, actor: str | None) -> dict:
    """Replace the JSON Schema clients' custom fields must satisfy (422 naming the schema's fault)."""
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        path = ".".join(["schema", *(str(p) for p in exc.absolute_path)])
        raise InvalidInput("not a valid JSON Schema", {path: [exc.message]}) from None
    previous = setting_value(session, key=CLIENT_CUSTOM_FIELDS, default={})
    session.merge(FirmSetting(key=CLIENT_CUSTOM_FIELDS, value=schema, updated_at=clock.now(), updated_by=actor))
    # Which custom fields the schema declares, before and after: the schema itself may be long.
    audit.record(
        session,
        "settings.client_custom_fields",
        actor=actor,
        target=f"settings:{CLIENT_CUSTOM_FIELDS}",
        detail={"properties": [sorted((previous or {}).get("properties", {})), sorted(schema.get("properties", {}))]},
    )
    return schema
