"""Load tests for chatserver: ``python -m loadtests SCENARIO ...`` (see docs/loadtesting.md).

Every scenario drives a real server (a ``chatserver serve`` subprocess on a loopback port, or a
running one given with ``--url``) with real python-socketio clients, and writes a JSON report.
"""
