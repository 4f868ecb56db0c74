"""The HTTP API (FastAPI): the Cloud Elements-compatible surface under ``/elements/api-v2``."""
