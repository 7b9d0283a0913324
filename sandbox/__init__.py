"""Local emulators of the apps' APIs (Kustomer, Google People) for the tests, the benchmarks and
the demo. Test and demo infrastructure: not part of the installed product (``pip install .``
ships none of it). Serve them with ``python -m sandbox`` or ``manage.py sandbox``."""
