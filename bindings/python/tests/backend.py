"""The reference backend (Mission Control) as a process on 127.0.0.1, and the manager's
HTTP calls the tests make to it."""

import json
import os
import re
import subprocess
import urllib.error
import urllib.request


# The operator token the tests start Mission Control with (creating a property needs it).
OPERATOR_TOKEN = "op-keyway-binding-tests-0123456789abcdef"


class MissionControl:
    def __init__(self, binary, db_path):
        self.proc = subprocess.Popen(
            [binary, "--db", db_path, "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "KEYWAY_MC_OPERATOR_TOKEN": OPERATOR_TOKEN},
        )
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"mission-control did not start: {line!r}")
        self.base_url = m.group(1)
        self.token = OPERATOR_TOKEN

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{method} {path}: {e.code} {e.read().decode()}") from None
        return text

    def json(self, method, path, body=None):
        return json.loads(self.call(method, path, body))

    def create_property(self, name="Elm Court"):
        created = self.json("POST", "/v1/properties", {"name": name, "manager_name": "Pat"})
        self.token = created["manager"]["token"]
        return created

    def create_door(self, name):
        """Returns the provisioning JSON text (what a lock is installed with)."""
        return self.call("POST", "/v1/doors", {"name": name, "online": False})

    def invite(self, name, doors, may_share=False):
        """Invites a person with an app key; returns (person_id, invite token)."""
        resp = self.json(
            "POST",
            "/v1/invites",
            {
                "name": name,
                "contact": f"{name.lower()}@example.test",
                "access": "app_key",
                "keys": [{"doors": doors, "expiry": "never"}],
                "resident": True,
                "may_share": may_share,
            },
        )
        person = resp["person"]["person_id"]
        tokens = [m["token"] for m in self.json("GET", "/v1/outbox") if m["person_id"] == person]
        assert len(tokens) == 1
        return person, tokens[0]


def binary():
    path = os.environ.get("KEYWAY_MISSION_CONTROL")
    if not path or not os.path.exists(path):
        raise RuntimeError("KEYWAY_MISSION_CONTROL must name the built mission-control binary (scripts/test-bindings sets it)")
    return path
