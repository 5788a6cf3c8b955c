"""Schemathesis against the served OpenAPI document, on a real server: no generated request, valid
or not, gets a 5xx, and responses match the documented schemas."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ..support import LiveServer, make_settings

ST = Path(sys.executable).with_name("st")
# Bounded so the run stays well under a minute on a 2-core machine.
MAX_EXAMPLES = "25"
# logout would revoke the token the run uses; a webhook endpoint would point the outbox at
# generated addresses outside this machine.
EXCLUDED = ("logout", "addWebhook")
# No 5xx, responses as documented (status, content type, body), and a deleted resource gone from
# every route.
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "use_after_free")


async def test_no_generated_request_gets_a_server_error_and_responses_match_the_schema(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, identity_secret="s", departments=("billing", "sales"),
                                      transcript_retention_days=30))
    await server.start()
    try:
        token = await server.admin_token()
        excluded = [arg for op in EXCLUDED for arg in ("--exclude-operation-id", op)]
        proc = await asyncio.create_subprocess_exec(
            str(ST), "run", f"{server.url}/api/openapi.json", "--header", f"Authorization: Bearer {token}",
            "--checks", CHECKS,
            *excluded, "--max-examples", MAX_EXAMPLES, "--seed", "20261123", "--workers", "1",
            "--phases", "examples,coverage,fuzzing,stateful", "--suppress-health-check", "all",
            "--request-timeout", "10", "--warnings", "off",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={"NO_COLOR": "1", "PATH": str(ST.parent), "HOME": str(tmp_path)},
            cwd=tmp_path,  # schemathesis keeps a cache directory in its working directory
        )
        output, _ = await asyncio.wait_for(proc.communicate(), 110)
        report = output.decode(errors="replace")
        assert proc.returncode == 0, report[-20000:]
        assert "generated" in report and " passed" in report, report[-5000:]
    finally:
        await server.close()
