"""The application's version: shown by /healthz, the OpenAPI document and each kiosk's heartbeat."""

__version__ = "0.1.0"
