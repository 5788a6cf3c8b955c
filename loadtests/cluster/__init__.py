"""Distributed load tests on Locust (master and workers): ``locustfile.py`` is what ``locust -f``
runs; the chat checks (``checks.py``) and the load profiles (``profiles.py``) import neither
Locust nor gevent, so the test suite and the one-box load tester can use them without gevent's
monkeypatching. docs/loadtesting.md describes a run."""
