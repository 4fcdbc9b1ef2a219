"""`glimpse serve`: the HTTP service over what the assets stored.

It reads the object store and the vector index and writes only to inboxes that sensors turn into
runs; it never runs an asset. `app.create_app` builds it, `serve.command` runs it (`glimpse serve`).
"""
