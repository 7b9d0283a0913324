# The end-to-end pair (a Kustomer org and a Google account on the HTTP sandbox).
from tests.e2e.conftest import pair  # noqa: F401
