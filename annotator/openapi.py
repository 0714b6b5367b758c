"""The OpenAPI 3.1 description of the JSON API (/api), served at GET /api/openapi.json.

tests/test_openapi.py keeps it true: every /api rule of the app is described here with the
same methods (and nothing else is), and real responses validate against the schemas below.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OPENAPI_VERSION = "3.1.0"

UTC_TIMESTAMP = {
    "type": "string", "format": "date-time",
    "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$",
    "description": "UTC, ISO 8601, ending in Z.",
}

SUGGESTION_PROPERTIES = {
    "label": {"type": "string"},
    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    "reason": {"type": "string", "maxLength": 200,
               "description": "Why, for a person to read (plain text)."},
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {"type": "string", "description": "What went wrong."},
                       "reason": {"const": "csrf", "description": (
                           "Only on a refused CSRF token: the page is older than its session "
                           "(signed in again elsewhere), so it should reload, keeping its changes.")}},
    },
    "ImportError": {
        "type": "object", "required": ["error", "errors"], "additionalProperties": False,
        "properties": {
            "error": {"type": "string"},
            "errors": {"type": "array", "minItems": 1, "items": {
                "type": "string", "description": "FILE:LINE: reason (FILE is <body> for a raw body)",
                "pattern": r"^.+:\d+: .+"}},
        },
    },
    "Label": {
        "type": "object", "required": ["key", "name", "hotkey", "color"],
        "additionalProperties": False,
        "properties": {
            "key": {"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"},
            "name": {"type": "string"},
            "hotkey": {"type": "string"},
            "color": {"type": "string", "description": "CSS colour, e.g. #1a2b3c"},
        },
    },
    "Relation": {
        "type": "object", "required": ["key", "name", "hotkey"], "additionalProperties": False,
        "properties": {
            "key": {"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"},
            "name": {"type": "string"},
            "hotkey": {"type": "string", "description": "Chooses it in the link picker."},
        },
    },
    "Project": {
        "type": "object",
        "required": ["id", "name", "labels", "overlap", "span_labels", "relations"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "labels": {"type": "array", "items": {"$ref": "#/components/schemas/Label"}},
            "span_labels": {"type": "array", "items": {"$ref": "#/components/schemas/Label"},
                            "description": "What a span can be; hotkeys work in span mode."},
            "relations": {"type": "array", "items": {"$ref": "#/components/schemas/Relation"},
                          "description": "What a link can say; the first is the default."},
            "overlap": {"type": "integer", "minimum": 1,
                        "description": "How many annotators each article needs."},
        },
    },
    "ArticleSummary": {
        "type": "object", "required": ["id", "article_id", "title", "url", "paragraph_count"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "article_id": {"type": "string", "description": "The external id given at import."},
            "title": {"type": "string"},
            "url": {"type": ["string", "null"]},
            "paragraph_count": {"type": "integer", "minimum": 0},
        },
    },
    "ArticlePage": {
        "type": "object", "required": ["total", "items"], "additionalProperties": False,
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/ArticleSummary"},
                      "description": "In import order."},
        },
    },
    "OwnAnnotation": {
        "type": "object", "required": ["label", "note", "source", "updated_at"],
        "additionalProperties": False,
        "properties": {
            "label": {"type": "string"},
            "note": {"type": ["string", "null"]},
            "source": {"$ref": "#/components/schemas/Source"},
            "updated_at": UTC_TIMESTAMP,
        },
    },
    "Source": {"type": "string", "enum": ["human", "suggestion"],
               "description": "human: typed by hand; suggestion: an accepted suggestion."},
    "Suggestion": {
        "type": "object", "required": ["label", "confidence", "reason"],
        "additionalProperties": False, "properties": SUGGESTION_PROPERTIES,
    },
    "Span": {
        "type": "object", "required": ["id", "start", "end", "label"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "start": {"type": "integer", "minimum": 0,
                      "description": "Code points of the paragraph's text (Python str "
                                     "indexing), not UTF-16 units."},
            "end": {"type": "integer", "minimum": 1, "description": "Exclusive."},
            "label": {"type": "string", "description": "A span label key of the project."},
        },
    },
    "SpanInput": {
        "type": "object", "required": ["start", "end", "label"],
        "properties": {
            "start": {"type": "integer", "minimum": 0},
            "end": {"type": "integer", "minimum": 1,
                    "description": "Exclusive; at most the text's length in code points."},
            "label": {"type": "string"},
        },
    },
    "SpansInput": {
        "type": "object", "required": ["spans"],
        "properties": {"spans": {
            "type": "array", "maxItems": 1000, "items": {"$ref": "#/components/schemas/SpanInput"},
            "description": "The whole set: it replaces the owner's spans of the paragraph. "
                           "None empty or out of range; two of the same label may not "
                           "overlap (of different labels they may, nested too)."}},
    },
    "StoredSpans": {
        "type": "object", "required": ["paragraph_id", "spans"], "additionalProperties": False,
        "properties": {
            "paragraph_id": {"type": "integer"},
            "spans": {"type": "array", "items": {"$ref": "#/components/schemas/Span"},
                      "description": "By offset. A span given as it was stored keeps its id "
                                     "(and its links)."}},
    },
    "LinkEnd": {
        "oneOf": [
            {"type": "object", "required": ["paragraph_id"], "additionalProperties": False,
             "properties": {"paragraph_id": {"type": "integer"}}},
            {"type": "object", "required": ["span_id"], "additionalProperties": False,
             "properties": {"span_id": {"type": "integer"}}},
        ],
        "description": "A paragraph of the article, or one of the same owner's spans in it.",
    },
    "Link": {
        "type": "object", "required": ["id", "from", "to", "relation"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "from": {"$ref": "#/components/schemas/LinkEnd"},
            "to": {"$ref": "#/components/schemas/LinkEnd"},
            "relation": {"type": "string"},
        },
    },
    "LinksInput": {
        "type": "object", "required": ["links"],
        "properties": {"links": {
            "type": "array", "maxItems": 5000,
            "description": "The whole set: it replaces the owner's links in the article. No "
                           "link from a unit to itself, none given twice.",
            "items": {"type": "object", "required": ["from", "to"], "properties": {
                "from": {"$ref": "#/components/schemas/LinkEnd"},
                "to": {"$ref": "#/components/schemas/LinkEnd"},
                "relation": {"type": "string",
                             "description": "A relation key; left out, the project's first."},
            }}}},
    },
    "StoredLinks": {
        "type": "object", "required": ["article_id", "links"], "additionalProperties": False,
        "properties": {
            "article_id": {"type": "integer"},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"},
                      "description": "In the order they were stored."}},
    },
    "Paragraph": {
        "type": "object",
        "required": ["id", "index", "text", "annotation", "suggestion", "spans"],
        "additionalProperties": False,
        "properties": {
            "spans": {"type": "array", "items": {"$ref": "#/components/schemas/Span"},
                      "description": "The caller's own spans, by offset."},
            "id": {"type": "integer"},
            "index": {"type": "integer", "minimum": 0},
            "text": {"type": "string"},
            "annotation": {"oneOf": [{"$ref": "#/components/schemas/OwnAnnotation"},
                                     {"type": "null"}],
                           "description": "The caller's own annotation, or null."},
            "suggestion": {"oneOf": [{"$ref": "#/components/schemas/Suggestion"},
                                     {"type": "null"}],
                           "description": "The suggested label, or null: none, below the "
                                          "project's threshold, or suggestions off. Shown "
                                          "whether or not the caller labeled the paragraph; "
                                          "it counts nowhere until accepted."},
        },
    },
    "Article": {
        "type": "object",
        "required": ["id", "article_id", "project_id", "title", "url", "paragraphs", "links"],
        "additionalProperties": False,
        "properties": {
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"},
                      "description": "The caller's own links in the article."},
            "id": {"type": "integer"},
            "article_id": {"type": "string"},
            "project_id": {"type": "integer"},
            "title": {"type": "string"},
            "url": {"type": ["string", "null"]},
            "paragraphs": {"type": "array", "items": {"$ref": "#/components/schemas/Paragraph"},
                           "description": "By index."},
        },
    },
    "NextArticle": {
        "type": "object", "required": ["article_id"], "additionalProperties": False,
        "properties": {"article_id": {"type": ["integer", "null"],
                                      "description": "The article's id (not its external "
                                                     "article_id), or null when none is left."}},
    },
    "Done": {
        "type": "object", "required": ["article_id", "finished_at"], "additionalProperties": False,
        "properties": {
            "article_id": {"type": "integer"},
            "finished_at": {"oneOf": [UTC_TIMESTAMP, {"type": "null"}]},
        },
    },
    "AnnotationInput": {
        "type": "object", "required": ["label"],
        "properties": {
            "label": {"type": "string", "description": "A label key of the paragraph's project."},
            "note": {"type": ["string", "null"],
                     "description": "Optional; left out, the note already written is kept; "
                                    "null or an empty string clears it. At most "
                                    "ANNOTATOR_MAX_NOTE_CHARS characters (default 4000)."},
            "source": {"$ref": "#/components/schemas/Source", "default": "human",
                       "description": "suggestion when the caller accepts a suggestion. The "
                                      "same label saved again stays human if either save "
                                      "was."},
        },
    },
    "Annotation": {
        "type": "object", "required": ["paragraph_id", "label", "note", "source", "updated_at"],
        "additionalProperties": False,
        "properties": {
            "paragraph_id": {"type": "integer"},
            "label": {"type": "string"},
            "note": {"type": ["string", "null"]},
            "source": {"$ref": "#/components/schemas/Source"},
            "updated_at": UTC_TIMESTAMP,
        },
    },
    "AnnotationBatchInput": {
        "type": "object", "required": ["items"],
        "properties": {"items": {
            "type": "array", "minItems": 1, "maxItems": 5000,
            "description": "Paragraphs of this article, each at most once.",
            "items": {"allOf": [{"$ref": "#/components/schemas/AnnotationInput"}, {
                "type": "object", "required": ["paragraph_id"],
                "properties": {"paragraph_id": {"type": "integer"}}}]}}},
    },
    "AnnotationBatch": {
        "type": "object", "required": ["items"], "additionalProperties": False,
        "properties": {"items": {"type": "array",
                                 "items": {"$ref": "#/components/schemas/Annotation"}}},
    },
    "ClearInput": {
        "type": "object", "required": ["paragraph_ids"],
        "properties": {"paragraph_ids": {"type": "array", "minItems": 1, "maxItems": 5000,
                                         "items": {"type": "integer"}}},
    },
    "Cleared": {
        "type": "object", "required": ["cleared"], "additionalProperties": False,
        "properties": {"cleared": {"type": "array", "items": {"type": "integer"},
                                   "description": "The paragraphs that had the caller's "
                                                  "label (the others had none)."}},
    },
    "SuggestionsInput": {
        "type": "object", "required": ["items", "model"],
        "properties": {
            "model": {"type": "string", "minLength": 1, "maxLength": 64,
                      "description": "The model's name (not signals or model, the app's "
                                     "own); each reason starts with it."},
            "items": {"type": "array", "minItems": 1, "maxItems": 5000, "items": {
                "type": "object", "required": ["paragraph_id", "label", "confidence"],
                "properties": {
                    "paragraph_id": {"type": "integer"},
                    "label": {"type": "string"},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "reason": {"type": ["string", "null"], "maxLength": 200},
                }}},
        },
    },
    "StoredSuggestions": {
        "type": "object", "required": ["model", "items"], "additionalProperties": False,
        "properties": {
            "model": {"type": "string"},
            "items": {"type": "array", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["paragraph_id", "label", "confidence", "reason"],
                "properties": {"paragraph_id": {"type": "integer"},
                               **SUGGESTION_PROPERTIES}}},
        },
    },
    "GoldInput": {
        "type": "object", "required": ["label"],
        "properties": {"label": {"type": "string"}},
    },
    "Gold": {
        "type": "object", "required": ["paragraph_id", "label", "updated_at"],
        "additionalProperties": False,
        "properties": {
            "paragraph_id": {"type": "integer"},
            "label": {"type": "string"},
            "updated_at": UTC_TIMESTAMP,
        },
    },
    "ImportResult": {
        "type": "object", "required": ["added", "skipped", "paragraphs"],
        "additionalProperties": False,
        "properties": {
            "added": {"type": "integer", "minimum": 0},
            "skipped": {"type": "integer", "minimum": 0,
                        "description": "Articles already present in the project."},
            "paragraphs": {"type": "integer", "minimum": 0},
            "errors": {"type": "array", "items": {"type": "string"},
                       "description": "With skip_invalid: the invalid records left out, "
                                      "as FILE:LINE: reason."},
            "warc_skipped": {"$ref": "#/components/schemas/WarcSkipped"},
        },
    },
    "WarcSkipped": {
        "type": "object", "additionalProperties": False,
        "required": ["not_html", "not_200", "duplicate", "not_response"],
        "description": "A WARC import's records that are no article, by why (only for WARC).",
        "properties": {
            "not_html": {"type": "integer", "minimum": 0},
            "not_200": {"type": "integer", "minimum": 0, "description": "HTTP status not 200."},
            "duplicate": {"type": "integer", "minimum": 0,
                          "description": "A URL already taken earlier in the import."},
            "not_response": {"type": "integer", "minimum": 0,
                             "description": "warcinfo, request, revisit, ... records."},
        },
    },
    "ImportJob": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "project_id", "file_name", "format", "state", "stage",
                     "records_read", "bytes_read", "bytes_total", "added", "skipped",
                     "paragraphs", "warc_skipped", "error", "errors", "error_count",
                     "created_at", "started_at", "heartbeat_at", "finished_at", "url"],
        "description": "A background import (`?background=1` or `Prefer: respond-async`).",
        "properties": {
            "id": {"type": "integer"},
            "project_id": {"type": "integer"},
            "file_name": {"type": "string", "description": "As uploaded; `<body>` for a raw body."},
            "format": {"type": "string"},
            "state": {"type": "string", "enum": ["queued", "running", "done", "failed"],
                      "description": "A job whose server process stopped is failed."},
            "stage": {"type": "string",
                      "description": "While running: `records read` or `paragraphs stored`."},
            "records_read": {"type": "integer", "minimum": 0},
            "bytes_read": {"type": "integer", "minimum": 0},
            "bytes_total": {"type": "integer", "minimum": 0},
            "added": {"type": "integer", "minimum": 0},
            "skipped": {"type": "integer", "minimum": 0},
            "paragraphs": {"type": "integer", "minimum": 0},
            "warc_skipped": {"type": "object", "additionalProperties": {"type": "integer"},
                             "description": "As WarcSkipped; empty for other formats."},
            "error": {"type": ["string", "null"], "description": "Why nothing was stored."},
            "errors": {"type": "array", "items": {"type": "string"},
                       "description": "FILE:LINE: reason of the invalid records (the first 1,000)."},
            "error_count": {"type": "integer", "minimum": 0},
            "created_at": UTC_TIMESTAMP,
            "started_at": {"oneOf": [UTC_TIMESTAMP, {"type": "null"}]},
            "heartbeat_at": UTC_TIMESTAMP,
            "finished_at": {"oneOf": [UTC_TIMESTAMP, {"type": "null"}]},
            "url": {"type": "string", "description": "This job's status route."},
        },
    },
    "ImportUpload": {
        "type": "object", "required": ["file"],
        "properties": {
            "file": {"type": "string", "contentMediaType": "application/octet-stream",
                     "description": "The format comes from the file name's extension: "
                                    ".jsonl, .txt, .md/.markdown, .html/.htm."},
            "format": {"type": "string", "enum": ["auto", "jsonl", "txt", "md", "html"],
                       "default": "auto"},
            "split": {"type": "string", "enum": ["line", "blank"], "default": "line"},
            "encoding": {"type": "string"},
            "skip_invalid": {"type": "string", "enum": ["1", "true", "on", "yes"]},
        },
    },
}

PARAMETERS: dict[str, dict[str, Any]] = {
    "project_id": {"name": "project_id", "in": "path", "required": True,
                   "schema": {"type": "integer"}},
    "article_id": {"name": "article_id", "in": "path", "required": True,
                   "schema": {"type": "integer"},
                   "description": "The article's id (`id`), not its external `article_id`."},
    "paragraph_id": {"name": "paragraph_id", "in": "path", "required": True,
                     "schema": {"type": "integer"}},
    "job_id": {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"$ref": f"#/components/responses/{name}"}
            for code, name in ((400, "BadRequest"), (401, "Unauthorized"), (403, "Forbidden"),
                               (404, "NotFound"), (409, "Conflict"), (413, "TooLarge"))
            if code in codes}


def _params(*names: str) -> list[dict[str, str]]:
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


# Reading needs a session cookie or a token; a state change with the cookie also needs the
# X-CSRFToken header (a bearer token needs none).
READ_SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]
WRITE_SECURITY = [{"bearerAuth": []}, {"cookieAuth": [], "csrfToken": []}]


def _operation(operation_id: str, summary: str, responses: dict[str, Any], *,
               write: bool = False, who: str = "any signed-in user",
               **extra: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary,
            "description": f"Who: {who}.", "security": WRITE_SECURITY if write else READ_SECURITY,
            "responses": responses, **extra}


MEMBER_SCOPED = {"project_id", "article_id", "paragraph_id"}


def _with_membership(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation on a path that names a project, article or paragraph may be 403: a
    members-only project and a caller who is not a member (auth.check_membership)."""
    for item in paths.values():
        names = {parameter["$ref"].rsplit("/", 1)[-1] for parameter in item.get("parameters", [])}
        if names & MEMBER_SCOPED:
            for method, operation in item.items():
                if method != "parameters":
                    operation["responses"].setdefault("403", _errors(403)["403"])
    return paths


def _paths() -> dict[str, Any]:
    return {
        "/api/openapi.json": {"get": _operation(
            "getOpenApi", "This description of the API (sign-in required, like every /api route)",
            {"200": _json({"type": "object", "required": ["openapi", "paths"]},
                          "The OpenAPI 3.1 document."), **_errors(401)})},
        "/api/projects": {"get": _operation(
            "listProjects", "Every project with its label set",
            {"200": _json({"type": "array", "items": _ref("Project")}, "The projects."),
             **_errors(401)})},
        "/api/projects/{project_id}/articles": {
            "parameters": _params("project_id"),
            "get": _operation(
                "listArticles", "A project's articles, a page at a time, in import order",
                {"200": _json(_ref("ArticlePage"), "One page of articles and the total."),
                 **_errors(400, 401, 404)},
                parameters=[
                    {"name": "offset", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 0, "default": 0}},
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 0, "maximum": 1000,
                                "default": 100}},
                ])},
        "/api/projects/{project_id}/next": {
            "parameters": _params("project_id"),
            "get": _operation(
                "peekNextArticle", "The article a POST would give the caller, claiming nothing "
                "(the first label saved in it claims it)",
                {"200": _json(_ref("NextArticle"), "The article to open, or null."),
                 **_errors(401, 404)}),
            "post": _operation(
                "nextArticle", "Claim the article the caller should label next",
                {"200": _json(_ref("NextArticle"), "The article to open, or null."),
                 **_errors(401, 404)},
                write=True)},
        "/api/articles/{article_id}": {
            "parameters": _params("article_id"),
            "get": _operation(
                "getArticle", "An article, its paragraphs and the caller's own annotations, "
                "spans and links",
                {"200": _json(_ref("Article"), "The article."), **_errors(401, 404)})},
        "/api/articles/{article_id}/annotations": {
            "parameters": _params("article_id"),
            "post": _operation(
                "postAnnotations", "Set several of the caller's labels in the article: one "
                "transaction, all or nothing (one bad entry: 400 naming it, nothing stored)",
                {"200": _json(_ref("AnnotationBatch"), "The annotations as stored, in order."),
                 **_errors(400, 401, 404, 413)},
                write=True,
                requestBody={"required": True, "content": {
                    "application/json": {"schema": _ref("AnnotationBatchInput")}}}),
            "delete": _operation(
                "deleteAnnotations", "Remove the caller's labels from those paragraphs of "
                "the article, in one transaction (kept in the history): the undo of a batch",
                {"200": _json(_ref("Cleared"), "Removed."), **_errors(400, 401, 404, 413)},
                write=True,
                requestBody={"required": True, "content": {
                    "application/json": {"schema": _ref("ClearInput")}}})},
        "/api/articles/{article_id}/suggestions": {
            "parameters": _params("article_id"),
            "put": _operation(
                "putSuggestions", "Store suggestions from an external model for paragraphs "
                "of the article (each replaces the paragraph's stored suggestion)",
                {"200": _json(_ref("StoredSuggestions"), "The suggestions as stored."),
                 **_errors(400, 401, 403, 404, 413)},
                write=True, who="admins",
                requestBody={"required": True, "content": {
                    "application/json": {"schema": _ref("SuggestionsInput")}}})},
        "/api/articles/{article_id}/done": {
            "parameters": _params("article_id"),
            "put": _operation(
                "markDone", "Mark the caller's work on the article finished",
                {"200": _json(_ref("Done"), "Finished."), **_errors(400, 401, 404)},
                write=True),
            "delete": _operation(
                "reopen", "Reopen the article for the caller",
                {"200": _json(_ref("Done"), "Reopened (finished_at is null)."),
                 **_errors(400, 401, 404)},
                write=True)},
        "/api/paragraphs/{paragraph_id}/annotation": {
            "parameters": _params("paragraph_id"),
            "put": _operation(
                "putAnnotation", "Set the caller's label (and note) on the paragraph",
                {"200": _json(_ref("Annotation"), "The caller's annotation as stored."),
                 **_errors(400, 401, 404, 413)},
                write=True,
                requestBody={"required": True, "content": {
                    "application/json": {"schema": _ref("AnnotationInput")}}}),
            "delete": _operation(
                "deleteAnnotation", "Remove the caller's annotation (kept in the history)",
                {"204": {"description": "Removed (or there was none)."},
                 **_errors(400, 401, 404)},
                write=True)},
        "/api/paragraphs/{paragraph_id}/spans": {
            "parameters": _params("paragraph_id"),
            "put": _operation(
                "putSpans", "Replace the caller's spans of the paragraph (all or nothing)",
                {"200": _json(_ref("StoredSpans"), "The caller's spans as stored."),
                 **_errors(400, 401, 404, 413)},
                write=True,
                requestBody={"required": True, "content": {
                    "application/json": {"schema": _ref("SpansInput")}}})},
        "/api/paragraphs/{paragraph_id}/gold/spans": {
            "parameters": _params("paragraph_id"),
            "put": _operation(
                "putGoldSpans", "Replace the paragraph's gold spans (all or nothing)",
                {"200": _json(_ref("StoredSpans"), "The gold spans as stored."),
                 **_errors(400, 401, 403, 404, 413)},
                write=True, who="admins and reviewers",
                requestBody={"required": True, "content": {
                    "application/json": {"schema": _ref("SpansInput")}}})},
        "/api/articles/{article_id}/links": {
            "parameters": _params("article_id"),
            "put": _operation(
                "putLinks", "Replace the caller's links in the article (all or nothing)",
                {"200": _json(_ref("StoredLinks"), "The caller's links as stored."),
                 **_errors(400, 401, 404, 413)},
                write=True,
                requestBody={"required": True, "content": {
                    "application/json": {"schema": _ref("LinksInput")}}})},
        "/api/articles/{article_id}/gold/links": {
            "parameters": _params("article_id"),
            "put": _operation(
                "putGoldLinks", "Replace the article's gold links (all or nothing)",
                {"200": _json(_ref("StoredLinks"), "The gold links as stored."),
                 **_errors(400, 401, 403, 404, 413)},
                write=True, who="admins and reviewers",
                requestBody={"required": True, "content": {
                    "application/json": {"schema": _ref("LinksInput")}}})},
        "/api/paragraphs/{paragraph_id}/gold": {
            "parameters": _params("paragraph_id"),
            "put": _operation(
                "putGold", "Set the paragraph's adjudicated (gold) label",
                {"200": _json(_ref("Gold"), "The gold label as stored."),
                 **_errors(400, 401, 403, 404, 413)},
                write=True, who="admins and reviewers",
                requestBody={"required": True, "content": {
                    "application/json": {"schema": _ref("GoldInput")}}}),
            "delete": _operation(
                "deleteGold", "Remove the paragraph's gold label",
                {"204": {"description": "Removed (or there was none)."},
                 **_errors(400, 401, 403, 404)},
                write=True, who="admins and reviewers")},
        "/api/projects/{project_id}/import": {
            "parameters": _params("project_id"),
            "post": _operation(
                "importArticles",
                "Import articles: all or nothing, with the same rules as `flask import`",
                {"200": _json(_ref("ImportResult"), "Imported."),
                 "202": _json(_ref("ImportJob"), "Asked for a background import: the job, "
                              "queued (its status route also in the Location header)."),
                 "400": {"description": "Invalid records (nothing was stored), or a request "
                                        "that is not an import.",
                         "content": {"application/json": {"schema": {"oneOf": [
                             _ref("ImportError"), _ref("Error")]}}}},
                 "429": _json(_ref("Error"), "A background import asked for while 4 are "
                              "queued or running."),
                 **_errors(401, 403, 404, 413)},
                write=True, who="admins",
                parameters=[
                    {"name": name, "in": "query", "required": False,
                     "description": "For a raw body (a multipart upload sends these as fields).",
                     "schema": SCHEMAS["ImportUpload"]["properties"][name]}
                    for name in ("encoding", "split", "skip_invalid")] + [
                    {"name": "background", "in": "query", "required": False,
                     "description": "Import in the background: answered 202 at once with the "
                                    "job (as the header `Prefer: respond-async`).",
                     "schema": {"type": "string", "enum": ["1", "true"]}},
                    {"name": "Prefer", "in": "header", "required": False,
                     "description": "`respond-async`: as `background=1`.",
                     "schema": {"type": "string"}}],
                requestBody={"required": True, "content": {
                    "multipart/form-data": {"schema": _ref("ImportUpload")},
                    "application/x-ndjson": {"schema": {
                        "type": "string",
                        "description": "JSONL, one article per line; errors name it <body>."}},
                }})},
        "/api/import-jobs/{job_id}": {
            "parameters": _params("job_id"),
            "get": _operation(
                "getImportJob", "A background import's progress and outcome",
                {"200": _json(_ref("ImportJob"), "The job as its row stands."),
                 **_errors(401, 403, 404)},
                who="admins")},
        "/api/projects/{project_id}/export.jsonl": {
            "parameters": _params("project_id"),
            "get": _operation(
                "exportJsonl", "The project's labels as JSONL, streamed (the bytes of `flask export`)",
                {"200": {"description": "One JSON object per line, in import order.",
                         "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                 **_errors(400, 401, 403, 404)},
                who="admins",
                parameters=[
                    {"name": "unit", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["paragraph", "article"],
                                "default": "paragraph"}},
                    {"name": "only_labeled", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["1", "true"]}},
                    {"name": "only_resolved", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["1", "true"]},
                     "description": "Only paragraphs with a label (gold or a strict "
                                    "majority): no ties."},
                    {"name": "annotator", "in": "query", "required": False,
                     "schema": {"type": "string"},
                     "description": "Export as if this user were the only annotator."},
                    {"name": "suggestions", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["1", "true"]},
                     "description": "Add each paragraph's stored suggestion (label, "
                                    "confidence, reason) or null."},
                ])},
    }


def build_openapi(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI document; `config` (the app's) fills in the cookie name and upload limit."""
    config = config or {}
    cookie = config.get("SESSION_COOKIE_NAME") or "session"
    limit_mb, body_kb = config.get("MAX_UPLOAD_MB", 64), config.get("MAX_BODY_KB", 1024)
    responses = {
        name: _json(_ref("Error"), description)
        for name, description in (
            ("BadRequest", "Bad input (or, with a session cookie, a missing or wrong CSRF token)."),
            ("Unauthorized", "Not signed in: no valid session cookie or bearer token."),
            ("Forbidden", "Signed in, but the role does not allow it, or the project is "
                          "members-only and the caller is not a member."),
            ("NotFound", "No such thing."),
            ("Conflict", "Conflicts with the current state."),
            ("TooLarge", f"The body is over its limit: {limit_mb} MB for an import "
                         f"(ANNOTATOR_MAX_UPLOAD_MB), {body_kb} KB for any other request "
                         "(ANNOTATOR_MAX_BODY_KB)."))}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "annotator JSON API",
            "version": "1",
            "description": (
                "Label the paragraphs of scraped web articles. All bodies are JSON; errors are "
                '`{"error": "<message>"}`. Authentication is checked first: every /api request '
                "without a valid session or bearer token is 401 — this document included, it "
                "too needs a sign-in. Scripts send `Authorization: Bearer <token>` (from "
                "`flask create-token` or the admin pages) and need no CSRF token; the web page's "
                "own calls use the session cookie and send the `X-CSRFToken` header (the "
                'content of `<meta name="csrf-token">`) on every state change. Timestamps are '
                "UTC, ISO 8601, ending in Z."),
        },
        "security": READ_SECURITY,
        "paths": _with_membership(_paths()),
        "components": {
            "schemas": SCHEMAS,
            "parameters": PARAMETERS,
            "responses": responses,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token; only its hash is stored."},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": cookie,
                               "description": "The browser session from the login form."},
                "csrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                              "description": "With cookieAuth, required on every state change "
                                             "(PUT, POST, DELETE); not used with bearerAuth."},
            },
        },
    }
