from tests.e2e.conftest import pair  # noqa: F401  (the sandbox pair, for commands that call apps)
