"""`txlab run` as a user starts it: a real process serving the dashboard on loopback."""
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.browser_support import free_port

TXLAB = Path(sys.executable).with_name("txlab")


def test_txlab_run_serves_the_dashboard_on_loopback(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [str(TXLAB), "run", "--port", str(port), "--data-dir", str(tmp_path / "d"), "--models-dir", str(tmp_path / "m")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = _get(f"http://127.0.0.1:{port}/", deadline=time.monotonic() + 60)
        assert "<title>txlab</title>" in page
        assert "/assets/bootstrap.min.css" in page and "cdn" not in page.lower()
        assert (tmp_path / "d" / "datasets").exists() is False  # nothing written before data comes in
        assert (tmp_path / "m").is_dir() and (tmp_path / "d" / ".cache").is_dir()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}" in output
    assert "Debug mode: on" not in output and "Traceback" not in output


def _get(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode("utf-8")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
