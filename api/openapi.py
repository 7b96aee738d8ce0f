"""The OpenAPI 3 document. Each area adds its paths with ``register_paths`` at import time."""

from __future__ import annotations

from typing import Any

from core.version import __version__

_PATHS: dict[str, dict[str, Any]] = {}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message"],
                "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
            }
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "role", "version", "database"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "role": {"type": "string", "enum": ["aggregator", "kiosk", "all"]},
            "version": {"type": "string"},
            "database": {
                "type": "object",
                "properties": {
                    "reachable": {"type": "boolean"},
                    # "database unavailable" when it does not answer; the reason is logged.
                    "error": {"type": ["string", "null"], "enum": [None, "database unavailable"]},
                },
            },
        },
    },
}


_SECURITY: dict[str, dict[str, Any]] = {}

RETRY_AFTER = {"Retry-After": {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 1}}}


def retry_later(description: str, schema: str = "Error") -> dict[str, Any]:
    """A 429 or 503 answer: the error body and the Retry-After header."""
    return {"description": description, "headers": RETRY_AFTER,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def register_paths(paths: dict[str, dict[str, Any]], schemas: dict[str, Any] | None = None,
                   security_schemes: dict[str, Any] | None = None) -> None:
    _PATHS.update(paths)
    _SCHEMAS.update(schemas or {})
    _SECURITY.update(security_schemes or {})


register_paths(
    {
        "/healthz": {
            "get": {
                "summary": "Role, version and database reachability",
                "operationId": "healthz",
                "responses": {
                    "200": {
                        "description": "healthy",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Health"}}
                        },
                    },
                    "503": {
                        "description": "database unreachable",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Health"}}
                        },
                    },
                },
            }
        }
    }
)


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SIPAS kiosk aggregator API",
            "version": __version__,
            "description": "Sync endpoints for kiosks and the read-only reporting API.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(_PATHS.items())),
        "components": {"schemas": dict(_SCHEMAS), "securitySchemes": dict(_SECURITY)},
    }
