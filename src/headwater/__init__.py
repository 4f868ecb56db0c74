"""Headwater: an events hub that polls SaaS APIs and delivers signed, durable webhooks."""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
