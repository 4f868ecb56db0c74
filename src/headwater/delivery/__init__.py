"""Notifications: the outbox written with the events, and the workers that deliver it."""
