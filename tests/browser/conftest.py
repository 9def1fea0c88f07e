"""Fixtures of the console's browser test: the already-built Mission Control binary on a free
loopback port with a temporary database, its JSON API, Debian's Chromium through Playwright
(a fresh profile per test), and the door simulator.

Nothing is built here: `scripts/test-browser` runs `cargo build` first. The binaries are
looked up in `$CARGO_TARGET_DIR` (default `target/`) under `debug/`, or named by
`MISSION_CONTROL_BIN` and `LOCK_SIM_BIN`.
"""

import json
import os
import pathlib
import re
import secrets
import select
import subprocess
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
MISSION_CONTROL = pathlib.Path(os.environ.get("MISSION_CONTROL_BIN") or TARGET / "debug" / "mission-control")
LOCK_SIM = pathlib.Path(os.environ.get("LOCK_SIM_BIN") or TARGET / "debug" / "lock-sim")
ARTIFACTS = ROOT / "target" / "browser-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Api:
    """Mission Control's JSON API, for what the console does not do (creating a property and
    doors: the operator's and the installer's jobs) and to check what the console did."""

    def __init__(self, base, operator_token):
        self.base = base
        self.operator_token = operator_token

    def call(self, method, path, token=None, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def ok(self, method, path, token=None, body=None):
        status, value = self.call(method, path, token, body)
        assert 200 <= status < 300, f"{method} {path}: {status} {value}"
        return value

    def property(self, name, offset_minutes=0):
        """A new property with two offline doors and one internet-connected door."""
        created = self.ok(
            "POST",
            "/v1/properties",
            self.operator_token,
            {"name": name, "utc_offset_minutes": offset_minutes, "manager_name": "Pat"},
        )
        pm = created["manager"]["token"]
        doors = {}
        for door, online in [("Lobby", False), ("Garage", False), ("Front door", True)]:
            doors[door] = self.ok("POST", "/v1/doors", pm, {"name": door, "online": online})
        return {"id": created["property_id"], "pm": pm, "doors": doors}


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The built `mission-control` binary on 127.0.0.1 (port 0: it prints the one it got)."""
    if not MISSION_CONTROL.exists():
        pytest.fail(f"{MISSION_CONTROL} is missing: run `cargo build -p mission-control` (scripts/test-browser does)")
    work = tmp_path_factory.mktemp("mission-control")
    operator = "op_browser_" + secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYWAY_MC_")}
    env["RUST_LOG"] = "warn"
    stderr = open(work / "stderr.log", "w")
    proc = subprocess.Popen(
        [str(MISSION_CONTROL), "--db", str(work / "mc.db"), "--listen", "127.0.0.1:0", "--operator-token", operator],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if not found:
            proc.kill()
            pytest.fail(f"mission-control did not start: {line!r}; stderr: {(work / 'stderr.log').read_text()}")
        yield Api(found.group(1), operator)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr.close()


@pytest.fixture(scope="session")
def playwright():
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright, tmp_path):
    """A fresh Chromium profile (its own cookies): `browser()` opens one more, for a second
    manager."""
    contexts = []

    def launch():
        profile = tmp_path / f"profile-{len(contexts)}"
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield launch
    for context in contexts:
        context.close()


@pytest.fixture
def lock_sim(tmp_path):
    """Runs the door simulator: `lock_sim(args...)` once, `lock_sim.background(args...)` until
    the test ends."""
    if not LOCK_SIM.exists():
        pytest.fail(f"{LOCK_SIM} is missing: run `cargo build -p lock-sim` (scripts/test-browser does)")
    running = []

    class LockSim:
        def __call__(self, *args):
            done = subprocess.run([str(LOCK_SIM), *map(str, args)], capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, f"lock-sim {args}: {done.stdout} {done.stderr}"
            return done.stdout

        def background(self, *args):
            log = open(tmp_path / f"lock-sim-{len(running)}.log", "w")
            proc = subprocess.Popen([str(LOCK_SIM), *map(str, args)], stdout=log, stderr=subprocess.STDOUT, text=True)
            running.append((proc, log))
            return proc

    yield LockSim()
    for proc, log in running:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
