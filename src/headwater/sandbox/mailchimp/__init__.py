"""A faithful local Mailchimp (Marketing API v3 and its OAuth 2), for the demo, tests and users.

``app.build_app(app.SandboxState(...))`` gives the aiohttp application; ``app.run(...)`` serves it
for ``headwater sandbox mailchimp``. Beside it: ``oauth`` (the login host), ``api`` (``/3.0``
lists and members), ``store`` and ``members`` (the data and its filter semantics), ``dates``,
``problems`` (problem+json errors), ``connections`` (10 simultaneous requests per account),
``webhooks`` (list webhooks), ``changes`` (atomic admin batches), ``samples`` (seed data)
and ``admin`` (the ``/_admin`` surface, documented there). Written from Mailchimp's public
documentation.
"""
