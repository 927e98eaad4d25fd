"""Deployments and process definitions."""

from __future__ import annotations

from flask import Response, current_app, g
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import func, select

from atrium.errors import InvalidInput, NotFound
from atrium.record_processes import STARTED_BY_RECORDS
from engine.definitions import SourceFile
from engine.deployments import deploy
from storage.definitions import ProcessDefinition
from storage.translations import PROCESS, translations_of

from .docs import errors
from .locale import request_locale
from .pagination import PageArgs, envelope, page_query, page_schema
from .permissions import has_permission, requires
from .schema_base import Schema

blp = Blueprint("definitions", __name__, url_prefix="/api", description="Deployments and process definitions")
# Each process and form may bring a translation file per language beside it.
MAX_FILES = 200


class DeploymentFiles(Schema):
    files = fields.List(
        fields.Raw(metadata={"type": "string", "format": "binary"}),
        required=True,
        validate=validate.Length(min=1, max=MAX_FILES),
        metadata={
            "description": ".bpmn, .dmn, form .json files and translation files (`<process or form>.<locale>.json`)"
        },
    )


class DeployedSchema(Schema):
    process_key = fields.String()
    version = fields.Integer()
    created = fields.Boolean(metadata={"description": "false when identical content was already deployed"})


class DeployedFormSchema(Schema):
    name = fields.String()
    version = fields.Integer()
    created = fields.Boolean()


class DeployedTranslationSchema(Schema):
    kind = fields.String(metadata={"description": "`process` or `form`"})
    name = fields.String(metadata={"description": "the process id or form name it translates"})
    locale = fields.String()
    created = fields.Boolean(metadata={"description": "false when identical content was already deployed"})


class DeploymentSchema(Schema):
    definitions = fields.List(fields.Nested(DeployedSchema))
    forms = fields.List(fields.Nested(DeployedFormSchema))
    translations = fields.List(fields.Nested(DeployedTranslationSchema))


class DefinitionSchema(Schema):
    process_key = fields.String()
    version = fields.Integer()
    name = fields.String(allow_none=True, metadata={"description": "in the request's language, else as in the file"})
    source_name = fields.String()
    deployed_at = fields.DateTime()
    start_events = fields.List(fields.Dict())


class DefinitionWithVersions(DefinitionSchema):
    versions = fields.List(fields.Nested(DefinitionSchema))


class StartFormSchema(Schema):
    name = fields.String(required=True, metadata={"description": "the form's name (as in GET /api/forms/{name})"})
    schema = fields.Dict(required=True, metadata={"description": "JSON Schema of the start variables"})
    ui_schema = fields.Dict(allow_none=True, required=True)


class ListedDefinitionSchema(DefinitionSchema):
    start_form = fields.Nested(
        StartFormSchema,
        allow_none=True,
        metadata={
            "description": (
                "the form the starter fills in (the first user task's), or null; send its data as the start `variables` "
                "of POST /api/process-instances, or complete the start task that opens for you"
            )
        },
    )


class DefinitionArgs(PageArgs):
    startable = fields.Boolean(
        load_default=False,
        metadata={
            "description": (
                "only processes you may start by hand: you have `instances:start`, and the process has a plain start "
                "event and is not one a record starts (service requests, complaints, follow-ups)"
            )
        },
    )


DefinitionPage = page_schema(ListedDefinitionSchema, "DefinitionPage")


def _engine():
    return current_app.extensions["atrium.engine"]


@blp.route("/deployments", methods=["POST"])
@requires("definitions:deploy")
@blp.arguments(DeploymentFiles, location="files")
@blp.response(201, DeploymentSchema)
@errors(blp, 413, 422)
def create_deployment(form):
    """Deploy BPMN, DMN and form files, all or nothing; 422 lists every problem with file, line and element."""
    uploads = form["files"]
    if not uploads or len(uploads) > MAX_FILES:
        raise InvalidInput(f"send between 1 and {MAX_FILES} files", {"files": [f"1 to {MAX_FILES} files"]})
    files = []
    for upload in uploads:
        if not getattr(upload, "filename", None):
            raise InvalidInput("each part must be a file", {"files": ["must be files with names"]})
        files.append(SourceFile(upload.filename, upload.read()))
    engine = _engine()
    with engine.transaction() as session:
        result = deploy(engine, session, files, actor=g.account.username)
    return {
        "definitions": [
            {"process_key": d.process_key, "version": d.version, "created": d.created} for d in result.definitions
        ],
        "forms": [{"name": name, "version": version, "created": created} for name, version, created in result.forms],
        "translations": [
            {"kind": kind, "name": name, "locale": locale, "created": created}
            for kind, name, locale, created in result.translations
        ],
    }


def _localized_names(session, definitions: list[ProcessDefinition]) -> list[dict]:
    """Definitions as DefinitionSchema dumps them, each name in the request's language."""
    locale = request_locale()
    texts = translations_of(session, kind=PROCESS, names=[d.process_key for d in definitions], locales=[locale])
    documents = []
    for definition in definitions:
        document = {name: getattr(definition, name) for name in DefinitionSchema().fields if name != "start_form"}
        document["name"] = (
            texts.get(definition.process_key, {}).get(locale, {}).get(definition.process_key) or definition.name
        )
        documents.append(document)
    return documents


def _latest_versions():
    latest = (
        select(ProcessDefinition.process_key, func.max(ProcessDefinition.version).label("version"))
        .group_by(ProcessDefinition.process_key)
        .subquery()
    )
    return select(ProcessDefinition).join(
        latest,
        (ProcessDefinition.process_key == latest.c.process_key) & (ProcessDefinition.version == latest.c.version),
    )


def _listed(session, definitions: list[ProcessDefinition]) -> list[dict]:
    """Definitions with their names and start forms in the request's language."""
    from .tasks import localized_form

    documents = _localized_names(session, definitions)
    for document, definition in zip(documents, definitions, strict=True):
        _, form = _engine().manual_start(session, definition.id)
        document["start_form"] = {"name": form.name, **localized_form(session, form)} if form else None
    return documents


def _startable_by_hand(session, definition: ProcessDefinition) -> bool:
    return definition.process_key not in STARTED_BY_RECORDS and _engine().manual_start(session, definition.id)[0]


@blp.route("/process-definitions")
@requires("definitions:read")
@blp.arguments(DefinitionArgs, location="query")
@blp.response(200, DefinitionPage)
@errors(blp, 422)
def list_definitions(args):
    """The latest version of each process, each with its start form; `startable=true`: only those you may
    start by hand (the "start work" list)."""
    query = _latest_versions().order_by(ProcessDefinition.process_key)
    with _engine().transaction() as session:
        if not args["startable"]:
            rows, total = page_query(session, query, select(func.count()).select_from(query.subquery()), args)
            return envelope(_listed(session, [row[0] for row in rows]), total, args)
        # A firm has a handful of processes: filtered here, where the parsed specs are (cached per version).
        startable = (
            [d for d in session.scalars(query) if _startable_by_hand(session, d)]
            if has_permission(g.account.roles, "instances:start")
            else []
        )
        first = (args["page"] - 1) * args["page_size"]
        page = startable[first : first + args["page_size"]]
        return envelope(_listed(session, page), len(startable), args)


def _versions_or_raise(session, key: str) -> list[ProcessDefinition]:
    versions = list(
        session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.process_key == key)
            .order_by(ProcessDefinition.version.desc())
        )
    )
    if not versions:
        raise NotFound(f"no process '{key}' is deployed")
    return versions


@blp.route("/process-definitions/<key>")
@requires("definitions:read")
@blp.response(200, DefinitionWithVersions)
@errors(blp, 404)
def get_definition(key):
    """A process's latest version, with all its versions."""
    with _engine().transaction() as session:
        versions = _localized_names(session, _versions_or_raise(session, key))
        return {**versions[0], "versions": versions}


@blp.route("/process-definitions/<key>/xml")
@requires("definitions:read")
@blp.response(200, content_type="application/xml", description="The BPMN file of the latest version")
@errors(blp, 404)
def get_definition_xml(key):
    """The BPMN XML of the latest version."""
    with _engine().transaction() as session:
        xml = _versions_or_raise(session, key)[0].bpmn_xml
    return Response(xml, mimetype="application/xml")
