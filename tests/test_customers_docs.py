"""The shop-side signing examples in docs/customers.md produce identities the server accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from chatserver.domain.identity import verify_identity

DOC = (Path(__file__).resolve().parent.parent / "docs" / "customers.md").read_text()
SECRET = "doc-secret"


def _block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC, re.S)
    assert len(blocks) == 1, language
    return str(blocks[0])


def test_the_python_example_signs_an_identity_the_server_accepts() -> None:
    namespace: dict[str, Any] = {}
    exec(_block("python"), namespace)
    identity = namespace["chat_identity"](SECRET, "cust-42", "ann@example.com", "Ann")
    claims = verify_identity(identity, SECRET, time.time(), 3600)
    assert (claims.external_id, claims.email, claims.name) == ("cust-42", "ann@example.com", "Ann")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_example_signs_an_identity_the_server_accepts() -> None:
    script = _block("js") + '\nprocess.stdout.write(chatIdentity("doc-secret", "cust-7", "bo@example.com", "Bo"));'
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True).stdout
    assert verify_identity(out, SECRET, time.time(), 3600).external_id == "cust-7"
