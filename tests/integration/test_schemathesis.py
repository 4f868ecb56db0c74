"""Schemathesis over the live OpenAPI spec (sandbox up, a real instance): no answer is a 5xx."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.api_fixtures import RunningApi

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
EXAMPLES_PER_OPERATION = 12
DELETE_INSTANCE = "delete_instance_elements_api_v2_instances__instance_id__delete"
DELETE_TOKEN_INSTANCE = "delete_token_instance_elements_api_v2_instances_delete"


async def test_no_server_errors(api: RunningApi, tmp_path: Path) -> None:
    spec = (await api.call("GET", "/openapi.json")).json
    operation_ids = {op.get("operationId") for ops in spec["paths"].values() for op in ops.values()}
    assert {DELETE_INSTANCE, DELETE_TOKEN_INSTANCE} <= operation_ids
    auth = await api.create_user()
    instance = await api.create_instance(auth=auth)
    config = tmp_path / "schemathesis.toml"
    # every operation on the live instance (its id in every path, its token in every header),
    # which stays there to the end: deleting it is tested elsewhere
    config.write_text(
        f'[parameters]\n"path.instance_id" = {instance["id"]}\n"path.list_id" = "l-0001"\n'
        "[[operations]]\n"
        f'include-operation-id = "{DELETE_INSTANCE}"\n'
        "enabled = false\n"
        "[[operations]]\n"
        f'include-operation-id = "{DELETE_TOKEN_INSTANCE}"\n'
        "enabled = false\n"
    )
    process = await asyncio.create_subprocess_exec(
        SCHEMATHESIS,
        "--config-file",
        str(config),
        "run",
        f"{api.root}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        "1",
        "--phases",
        "examples,fuzzing",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--workers",
        "2",
        "--no-color",
        "--header",
        f"Authorization: {auth}, Element {instance['token']}",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-20000:]
    assert "passed" in text.lower() or "no issues found" in text.lower(), text[-5000:]
