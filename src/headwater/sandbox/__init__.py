"""Local stand-ins for the outside world: a faithful Act-On (``acton``) and a callback receiver.

Both are small aiohttp.web applications that start in milliseconds; they serve the demo, the tests
and anyone who wants to try an integration offline.
"""
