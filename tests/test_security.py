"""Attacks a LAN colleague could try on the running app, answered by the server itself.

Dash's own background-callback endpoint is the sharpest tool: its job handles name a
process id and a result-cache key. Handles that the server did not sign must kill nothing
and read nothing (dash >= 4.4.1 signs them; older releases let any client kill processes).
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest

SCORE_CALLBACK = "..score-result.children...score-file.data.."


def _score_request(client, query: str):
    """The Score page's background callback as the browser sends it, with ``query`` appended."""
    body = {
        "output": SCORE_CALLBACK,
        "outputs": [{"id": "score-result", "property": "children"}, {"id": "score-file", "property": "data"}],
        "inputs": [{"id": "score-start", "property": "n_clicks", "value": None}],
        "state": [{"id": "score-version", "property": "value", "value": None},
                  {"id": "score-source", "property": "value", "value": None},
                  {"id": "score-upload-store", "property": "data", "value": None},
                  {"id": "score-format", "property": "value", "value": "csv"}],
        "changedPropIds": [],
    }
    return client.post(f"/_dash-update-component?{query}", data=json.dumps(body), content_type="application/json")


@pytest.fixture
def victim():
    """A process a forged handle would try to kill."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


@pytest.mark.parametrize("handle", ["{pid}", "{pid}~" + "0" * 64, "{pid}~not-a-signature"])
def test_a_forged_job_handle_kills_nothing(txlab_app, victim, handle):
    client = txlab_app.server.test_client()
    response = _score_request(client, f"oldJob={handle.format(pid=victim.pid)}")
    assert response.status_code < 500
    time.sleep(0.5)
    assert victim.poll() is None, "a forged oldJob handle killed a process"


def test_a_forged_cache_key_reads_and_deletes_nothing(txlab_app, victim):
    jobs = txlab_app._background_manager.handle
    secret_result = json.dumps({"score-result": {"children": "another user's scores"}})
    jobs.set("someone-elses-job", secret_result)
    client = txlab_app.server.test_client()
    for key in ("someone-elses-job", "someone-elses-job~" + "0" * 64):
        response = _score_request(client, f"cacheKey={key}&job={victim.pid}")
        assert response.status_code < 500
        assert b"another user" not in response.data
    time.sleep(0.5)
    assert victim.poll() is None
    assert jobs.get("someone-elses-job") == secret_result  # not read-and-cleared either
