"""The OpenAPI document as the API behaves, where FastAPI's own would say otherwise.

- A request that fails validation is answered 400 in our words (``bot.api.errors``), never 422:
  FastAPI's default 422 entries, and the schemas only they use, are taken out.
- The API token: a bearer scheme, declared on every ``/api/`` route. It applies when the stack has
  TNAAS_API_TOKEN set (``bot.edge`` checks it); without one the API is open, hence the empty
  alternative in each route's ``security``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.security import HTTPBearer

API_PREFIX = "/api/"
TOKEN_SCHEME = "apiToken"
TOKEN = HTTPBearer(
    scheme_name=TOKEN_SCHEME,
    description="`Authorization: Bearer <token>`, required only when the stack has TNAAS_API_TOKEN set "
    "(then every /api/ route answers 401 without it); the page and /healthz never need it.",
    auto_error=False,
)
FRAMEWORK_ONLY = ("HTTPValidationError", "ValidationError")  # the schemas of FastAPI's 422


def as_the_api_behaves(document: dict) -> dict:
    """``document`` without 422s and with the token's scheme (in place; doing it twice changes nothing)."""
    for path, operations in document["paths"].items():
        for operation in operations.values():
            operation["responses"].pop("422", None)
            if path.startswith(API_PREFIX):
                operation["security"] = [{TOKEN_SCHEME: []}, {}]
    components = document.setdefault("components", {})
    for name in FRAMEWORK_ONLY:
        components.get("schemas", {}).pop(name, None)
    components["securitySchemes"] = {
        TOKEN_SCHEME: TOKEN.model.model_dump(mode="json", by_alias=True, exclude_none=True)
    }
    return document


def install_api_document(app: FastAPI) -> None:
    """/openapi.json: FastAPI's document (built once, by FastAPI), as the API behaves."""
    framework = app.openapi
    app.openapi = lambda: as_the_api_behaves(framework())
