"""Translation files beside process and form files, and what they translate.

`processes/<process_id>.<locale>.json` maps the process id to the process's name, an element id
to that element's name, and `<user_task_id>.subject` to the task's subject template.
`forms/<form_name>.<locale>.json` maps `title` and `description` to the form's, a field path
(`engagement.fee_amount`) to the field's title, `<field>.description` to its description and
`<field>.enum.<value>` to the label of one of its choices. A field named `title` or `description`
is written `properties.title` (any field may be; where `<field>.description` could also name a
nested field called `description`, the nested field wins). English is the text in the BPMN or form
file itself; whatever a file does not translate falls back to it, never to a key.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass

from lxml import etree

from atrium.errors import Problem
from atrium.i18n import SUPPORTED
from storage.text_search import normalise

from .dialects import BPMN_NS
from .subjects import render_subject, template_problem

# `approval.zh-CN.json`: a name, then a language tag. Form files never look like this
# (`x-schema.json`, `x.uischema.json`), and a two-letter second part is read as a locale.
_TRANSLATION_FILE = re.compile(r"^(?P<name>.+)\.(?P<locale>[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)\.json$")
SUBJECT_SUFFIX = ".subject"
FIELD_PREFIX = "properties."


@dataclass
class TranslationFile:
    source_name: str
    name: str
    locale: str
    content: dict

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def translation_file_parts(filename: str) -> tuple[str, str] | None:
    """(name, locale) of a translation file's name, or None when it is not one."""
    match = _TRANSLATION_FILE.match(filename.replace("\\", "/").rsplit("/", 1)[-1])
    return (match.group("name"), match.group("locale")) if match else None


def load_translation_file(source, problems: list[Problem]) -> TranslationFile | None:
    name, locale = translation_file_parts(source.name)
    if locale not in SUPPORTED:
        problems.append(
            Problem(
                source.name,
                None,
                None,
                f"unknown locale '{locale}' in the file name (supported: {', '.join(SUPPORTED)})",
            )
        )
        return None
    try:
        content = json.loads(source.content)
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(Problem(source.name, getattr(exc, "lineno", None), None, f"not valid JSON: {exc}"))
        return None
    if not isinstance(content, dict):
        problems.append(Problem(source.name, None, None, "a translation file must be a JSON object of key -> text"))
        return None
    bad = [key for key, value in content.items() if not isinstance(value, str)]
    for key in bad:
        problems.append(Problem(source.name, None, key, f"translation of '{key}' must be text"))
    return None if bad else TranslationFile(source.name, name, locale, content)


# What a translation may name -----------------------------------------------------------------
@dataclass
class ProcessTexts:
    """A process as its translation files see it: its element ids and which are user tasks."""

    file: str
    element_ids: set[str]
    user_tasks: set[str]


def processes_in_bpmn(filename: str, root) -> dict[str, ProcessTexts]:
    """Every process in a parsed BPMN document, by id."""
    found = {}
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        ids = {el.get("id") for el in process.iter() if isinstance(el.tag, str) and el.get("id")}
        user_tasks = {el.get("id") for el in process.iter(f"{{{BPMN_NS}}}userTask") if el.get("id")}
        found[process.get("id")] = ProcessTexts(filename, ids, user_tasks)
    return found


def processes_in_xml(filename: str, xml: str | bytes) -> dict[str, ProcessTexts]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return processes_in_bpmn(filename, etree.fromstring(xml.encode() if isinstance(xml, str) else xml, parser))


def process_translation_problems(file: TranslationFile, process: ProcessTexts) -> list[Problem]:
    problems = []
    for key, value in file.content.items():
        if key.endswith(SUBJECT_SUFFIX) and key[: -len(SUBJECT_SUFFIX)] in process.user_tasks:
            message = template_problem(value)
            if message:
                problems.append(Problem(file.source_name, None, key, message))
        elif key != file.name and key not in process.element_ids:
            problems.append(
                Problem(
                    file.source_name,
                    None,
                    key,
                    f"'{key}' names no element of process '{file.name}' "
                    "(keys are the process id, element ids and <user task id>.subject)",
                )
            )
    return problems


def form_keys(schema: dict) -> set[str]:
    """Every key a translation of this form may use."""
    keys = {"title", "description"}
    for path, field in _fields(schema):
        for prefix in ("", FIELD_PREFIX):
            keys.update({prefix + path, f"{prefix}{path}.description"})
            keys.update(f"{prefix}{path}.enum.{_enum_key(v)}" for v in _enum(field))
    return keys


def form_translation_problems(file: TranslationFile, schema: dict) -> list[Problem]:
    keys = form_keys(schema)
    return [
        Problem(
            file.source_name, None, key, f"'{key}' names no title, field, description or choice of form '{file.name}'"
        )
        for key in file.content
        if key not in keys
    ]


def _fields(schema: dict, prefix: str = ""):
    """(path, field schema) of every property, nested objects and arrays of objects included."""
    if not isinstance(schema, dict):
        return
    for name, field in (schema.get("properties") or {}).items():
        if not isinstance(field, dict):
            continue
        path = prefix + name
        yield path, field
        yield from _fields(field, path + ".")
        if isinstance(field.get("items"), dict):
            yield from _fields(field["items"], path + ".")


def _enum(field: dict) -> list:
    values = field.get("enum")
    if values is None and isinstance(field.get("items"), dict):
        values = field["items"].get("enum")
    return values if isinstance(values, list) else []


def _enum_key(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# Applying them -------------------------------------------------------------------------------
def localize_form(schema: dict, ui_schema: dict | None, texts: dict) -> tuple[dict, dict | None]:
    """The form in another language: titles and descriptions replaced, choices' labels put in the
    UI schema as `ui:enumNames` (what react-jsonschema-form reads), in the enum's order. Nothing
    that validates changes."""
    if not texts:
        return schema, ui_schema
    schema, ui = copy.deepcopy(schema), copy.deepcopy(ui_schema) if ui_schema else {}
    for key in ("title", "description"):
        if texts.get(key):
            schema[key] = texts[key]
    paths = {path for path, _ in _fields(schema)}

    def text(path: str, suffix: str = "") -> str | None:
        found = texts.get(f"{FIELD_PREFIX}{path}{suffix}")
        prefixless = f"{path}{suffix}"
        if (
            found is None
            and prefixless not in ("title", "description")
            and not (suffix == ".description" and prefixless in paths)
        ):
            found = texts.get(prefixless)
        return found

    def walk(node: dict, prefix: str, ui_node: dict) -> None:
        for name, field in (node.get("properties") or {}).items():
            if not isinstance(field, dict):
                continue
            path = prefix + name
            title, description = text(path), text(path, ".description")
            if title:
                field["title"] = title
            if description:
                field["description"] = description
            values = _enum(field)
            labels = [
                texts.get(f"{FIELD_PREFIX}{path}.enum.{_enum_key(v)}") or texts.get(f"{path}.enum.{_enum_key(v)}")
                for v in values
            ]
            field_ui = ui_node.get(name) if isinstance(ui_node.get(name), dict) else {}
            if any(labels):
                known = field_ui.get("ui:enumNames") or []
                field_ui["ui:enumNames"] = [
                    label or (known[i] if i < len(known) else _enum_key(v))
                    for i, (v, label) in enumerate(zip(values, labels))
                ]
            walk(field, path + ".", field_ui)
            if isinstance(field.get("items"), dict):
                items_ui = field_ui.get("items") if isinstance(field_ui.get("items"), dict) else {}
                walk(field["items"], path + ".", items_ui)
                if items_ui:
                    field_ui["items"] = items_ui
            if field_ui:
                ui_node[name] = field_ui

    walk(schema, "", ui)
    return schema, ui or ui_schema


def task_texts(
    *,
    element_id: str,
    name: str,
    subject: str | None,
    process_id: str,
    process_name: str | None,
    translations: dict[str, dict],
    data: dict,
) -> tuple[dict, str]:
    """A task's name, subject and process name in every supported language (falling back to the
    file's own text), and their normalised search text. `translations`: locale -> content of the
    process's translation files."""
    texts: dict[str, dict[str, str]] = {"name": {}, "subject": {}, "process_name": {}}
    for locale in SUPPORTED:
        table = translations.get(locale) or {}
        texts["name"][locale] = table.get(element_id) or name
        texts["process_name"][locale] = table.get(process_id) or process_name or process_id
        template = table.get(element_id + SUBJECT_SUFFIX) or subject
        if template:
            texts["subject"][locale] = render_subject(template, data, locale)
    if not texts["subject"]:
        del texts["subject"]
    searched = [*texts["name"].values(), *(texts.get("subject") or {}).values()]
    return texts, normalise(" ".join(dict.fromkeys(searched)))


def localized(texts: dict | None, what: str, locale: str) -> str | None:
    """One of a task's texts in `locale`, else in English; None when the task has none."""
    values = (texts or {}).get(what) or {}
    return values.get(locale) or values.get("en")
