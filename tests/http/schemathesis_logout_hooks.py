"""Schemathesis hooks for fuzzing ``logout`` (loaded by tests/http/test_schemathesis.py through
SCHEMATHESIS_HOOKS, in the ``st`` process): every call logs in afresh and uses the new token,
since each logout revokes every token the agent had, the one it was called with included."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import schemathesis


@schemathesis.auth(refresh_interval=None)  # no cache: a new login for every generated call
class FreshAgentToken:
    def get(self, case: Any, context: Any) -> str:
        login = json.dumps({"email": os.environ["FUZZ_AGENT_EMAIL"],
                            "password": os.environ["FUZZ_AGENT_PASSWORD"]}).encode()
        request = urllib.request.Request(os.environ["FUZZ_LOGIN_URL"], data=login, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.load(response)["token"])

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
