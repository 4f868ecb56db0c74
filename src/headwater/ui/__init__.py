"""The web UI: server-rendered pages over the same services as the API.

Signed-in users see their organization's instances, create one through the provider's OAuth
page, and watch its pollers, events and deliveries. ``app.install`` mounts it on the API's app.
"""
