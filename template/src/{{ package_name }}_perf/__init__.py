"""Load-test tooling: locust against the real service, judged against the SLA.

Not part of the runtime: the images do not ship it (pyproject: ``[tool.hatch.build]``) and
nothing in the service imports it; only the ``loadtest`` command reaches it, lazily.
"""
