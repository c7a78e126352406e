"""Test-wide fixtures: no network but loopback, and shared offline plans."""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A cache of our own for the session (AWS shapes, pipeline definitions), inherited by the
# CLI subprocesses: tests never depend on what a developer's ~/.cache holds.
os.environ["MLSTACK_CACHE_DIR"] = tempfile.mkdtemp(prefix="mlstack-test-cache-")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = ROOT / "mlstack.yaml"


class NetworkBlocked(RuntimeError):
    """A test tried to reach something other than this machine."""


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like stay on this machine
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return False  # a host name other than localhost would need DNS: refuse


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any test that opens a connection to anything but loopback."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded(method):  # type: ignore[no-untyped-def]
        def connect(self: socket.socket, address: object):  # type: ignore[no-untyped-def]
            if not _is_loopback(address):
                raise NetworkBlocked(f"test tried to connect to {address!r}; only loopback is allowed")
            return method(self, address)

        return connect

    monkeypatch.setattr(socket.socket, "connect", guarded(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(real_connect_ex))
    yield


@pytest.fixture(scope="session")
def plans():  # type: ignore[no-untyped-def]
    """Offline plans of the example, one per environment, synthesized once per session."""
    from mlstack.plan.synth import synthesize
    from mlstack.project import find_project

    example = find_project(explicit=ROOT)
    cache: dict[str, object] = {}

    def get(environment: str):  # type: ignore[no-untyped-def]
        if environment not in cache:
            cache[environment] = synthesize(environment, project=example)
        return cache[environment]

    return get


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing `needle`."""
    found = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            found += 1
            if found == occurrence:
                return number
    raise AssertionError(f"{needle!r} not found {occurrence} time(s)")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server on 127.0.0.1 (real HTTP), for tests of boto3 code paths."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point every boto3 client at moto (fresh state per test), with fake credentials and one attempt."""
    import urllib.request

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    yield moto_endpoint


def run_program(spec_file: Path, environment: str = "dev") -> None:
    """Run mlstack's Pulumi program as `pulumi up` would, under plain SDK mocks."""
    import contextvars

    from pulumi.runtime import set_all_config, set_mocks
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from mlstack import program
    from mlstack.plan.synth import DeterministicMocks

    def run() -> None:
        set_all_config({"mlstack:environment": environment, "mlstack:spec": str(spec_file), "aws:region": "eu-west-1"})
        set_mocks(DeterministicMocks("eu-west-1", "111111111111"), project="mlstack", stack=environment, preview=True)
        _sync_await(run_pulumi_func(lambda: program.run(ROOT)))

    contextvars.Context().run(run)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the `mlstack` console entry point in-process: (exit code, stdout, stderr)."""
    from mlstack.cli import main

    def run(*args: str, cwd: Path) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr("sys.argv", ["mlstack", *args])
        monkeypatch.setenv("COLUMNS", "200")
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
