"""Domain errors raised by the engine and services; the API maps each to one problem type."""

from __future__ import annotations

from dataclasses import dataclass


class AtriumError(Exception):
    status = 500
    title = "Internal error"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class NotFound(AtriumError):
    status = 404
    title = "Not found"


class Conflict(AtriumError):
    status = 409
    title = "Conflict"


class Forbidden(AtriumError):
    status = 403
    title = "Forbidden"


class InvalidInput(AtriumError):
    """Input that fails validation; `errors` maps each field path to its messages."""

    status = 422
    title = "Invalid input"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.errors = errors or {}


@dataclass(frozen=True)
class Problem:
    """One problem in a BPMN/DMN/form file, printed as `file:line: element-id: message`."""

    file: str
    line: int | None
    element_id: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line or 0}: {self.element_id or '-'}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "element_id": self.element_id, "message": self.message}


class DefinitionInvalid(AtriumError):
    status = 422
    title = "Invalid process definition"

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s) in the submitted definitions")
        self.problems = problems


class Unauthorized(AtriumError):
    status = 401
    title = "Unauthorized"


class RowsInvalid(AtriumError):
    """An import refused because some rows are invalid; `problems` names each row, column and message."""

    status = 422
    title = "Invalid rows"

    def __init__(self, detail: str, problems: list[dict]):
        super().__init__(detail)
        self.problems = problems


class DuplicateFound(Conflict):
    """A new record looks like existing ones; `candidates` lists them so the caller can confirm or merge."""

    title = "Possible duplicate"

    def __init__(self, detail: str, candidates: list[dict], withheld: dict | None = None):
        super().__init__(detail)
        self.candidates = candidates
        # Matches the caller may not see: only counted, with who can resolve them.
        self.withheld = withheld


class TooManyRequests(AtriumError):
    """Refused for now (login throttling); `retry_after` says in how many seconds to try again."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after
