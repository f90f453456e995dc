"""``kubectl punctual``: the kubectl plugin that shows and starts Punctual's runs.

``cli.main`` is the ``kubectl-punctual`` console script; kubectl runs any
``kubectl-<name>`` program on PATH as ``kubectl <name>``. The plugin talks to
the API server with the user's own credentials (the synchronous ``kubernetes``
client), so RBAC applies to everything it reads and creates.
"""
