"""A door controller written in Python on the door SDK (door_support.py: a file store, an
actuator), provisioned from the reference backend's answer and unlocked by residents' wallets
in the same process: a grant, an update-carrying unlock whose receipt shows the applied seq,
a denial, a failed save that withholds the result, a keypad code, a card, provisioning
that is checked before anything is written, and the door's own feed from the backend (no
phone involved)."""

import asyncio
import json
import threading
import time
import urllib.request

import pytest

import keyway
from door_support import FileDoorStore, QueueDoorLink, RecordingActuator, WalletToDoorLink, python_door
from support import DictStore


def resident(backend, name, doors):
    _, token = backend.invite(name, doors)
    wallet = keyway.Wallet.open_in_memory(DictStore())
    asyncio.run(wallet.accept_invite(backend.base_url, token))
    return wallet


def carry_removal(backend, door_id):
    """A person removed by the manager: the offline door needs a door update. Returns the
    person's wallet (which has not synced since) and the update's seq."""
    person, token = backend.invite("Bo", [door_id])
    bo = keyway.Wallet.open_in_memory(DictStore())
    asyncio.run(bo.accept_invite(backend.base_url, token))
    backend.call("DELETE", f"/v1/people/{person}")
    [task] = backend.json("GET", f"/v1/door-updates?door_id={door_id}&state=pending")
    return bo, task


def test_a_resident_unlocks_the_python_door_and_the_grant_opens_it(backend, tmp_path):
    door, store, actuator = python_door(backend.create_door("Lobby"), tmp_path)
    assert store.saves == 1, "the install is saved before the door is used"
    door_id = door.door_id()
    ana = resident(backend, "Ana", [door_id])

    advert = ana.parse_advertisement(door.scan_response(), -50)
    assert (advert.door_id, advert.door_name, advert.can_open) == (door_id, "Lobby", True)
    assert ana.parse_advertisement(door.advertisement(), None).seq_hint == 0

    link = WalletToDoorLink(door, mtu=185)
    result = asyncio.run(ana.unlock(door_id, link))

    assert result.granted and result.denial is None and not result.updates_carried
    [key] = ana.keys()
    [opened] = actuator.opened
    assert isinstance(opened.activity.event, keyway.Activity.APP_UNLOCK)
    assert opened.activity.event.key_id == key.key_id and not opened.activity.event.guest
    assert all(len(f) <= 182 for f in link.door_link.sent)
    finished = link.progress[-1]
    assert isinstance(finished, keyway.SessionProgress.FINISHED)
    assert finished.report.entry == opened and finished.report.seq_after == 0
    assert link.conn.is_over() and link.door_errors == []
    [receipt] = ana.receipts()
    assert receipt.door_id == door_id and [a.seq for a in receipt.activity] == [opened.activity.seq]

    # The door's log is on disk: a restarted door remembers the entry.
    restarted = keyway.DoorController.restore(store, RecordingActuator())
    assert [a.seq for a in restarted.activity()] == [opened.activity.seq]
    assert restarted.status().activity_head == 1


def test_an_unlock_carrying_an_update_is_receipted_at_its_seq_and_the_removed_person_is_denied(backend, tmp_path):
    door, store, actuator = python_door(backend.create_door("Lobby"), tmp_path)
    door_id = door.door_id()
    ana = resident(backend, "Ana", [door_id])
    bo, task = carry_removal(backend, door_id)
    asyncio.run(ana.sync())
    [pending] = ana.pending_updates()
    assert ana.parse_advertisement(door.scan_response(), None).carries_updates

    saves = store.saves
    link = WalletToDoorLink(door, mtu=23)
    result = asyncio.run(ana.unlock(door_id, link))

    assert result.granted and result.updates_carried
    assert (result.seq_before, result.seq_after) == (0, pending.last_seq)
    [receipt] = ana.receipts()
    assert receipt.applied_seq == pending.last_seq == task["seq"]
    assert ana.pending_updates() == []
    # The lock opened on the decision, before the batch came and the state was saved.
    assert actuator.saves_at_open == [saves]
    decided = [p for p in link.progress if isinstance(p, keyway.SessionProgress.DECIDED)]
    assert len(decided) == 1 and decided[0].entry.granted
    report = link.progress[-1].report
    assert (report.seq_before, report.seq_after, report.rejected_updates) == (0, pending.last_seq, [])
    assert door.update_seq() == pending.last_seq and store.saved_seq() == pending.last_seq
    assert door.status().revocations >= 1
    assert ana.parse_advertisement(door.advertisement(), None).seq_hint == pending.last_seq

    uploaded = asyncio.run(ana.upload())
    assert uploaded.updates_confirmed == 1
    assert backend.json("GET", f"/v1/door-updates?door_id={door_id}&state=pending") == []

    # Bo's phone has not synced since he was removed: it still offers his key, and the door
    # refuses it (a decision, not an error). A refused presenter gets no receipt (nothing of
    # the door's log), and the refusal names no one (the door refused before verifying).
    denied = asyncio.run(bo.unlock(door_id, WalletToDoorLink(door)))
    assert not denied.granted
    assert denied.denial in (keyway.DenialReason.REVOKED_PERSON, keyway.DenialReason.REVOKED_DEVICE)
    assert len(actuator.opened) == 1, "a denial does not open the lock"
    event = door.activity()[-1].event
    assert isinstance(event, keyway.Activity.APP_DENIED) and event.reason == denied.denial
    assert event.person_id is None and event.key_id is None
    assert len(bo.receipts()) == 0


def test_a_failed_save_withholds_the_result_and_a_restarted_door_takes_the_update_again(backend, tmp_path):
    door, store, actuator = python_door(backend.create_door("Lobby"), tmp_path)
    door_id = door.door_id()
    ana = resident(backend, "Ana", [door_id])
    carry_removal(backend, door_id)
    asyncio.run(ana.sync())
    [pending] = ana.pending_updates()

    store.fail_saves = 1
    link = WalletToDoorLink(door, mtu=247)
    with pytest.raises((keyway.KeywayError.LinkDisconnected, keyway.KeywayError.LinkTimeout)):
        asyncio.run(ana.unlock(door_id, link))

    [error] = link.door_errors
    assert isinstance(error, keyway.DoorError.Storage) and "no space left" in str(error)
    assert link.door_link.disconnects == 1 and link.conn.is_over()
    # The decision stands (the lock opened on it); the result and its receipt never left.
    assert len(actuator.opened) == 1
    assert not any(isinstance(p, keyway.SessionProgress.FINISHED) for p in link.progress)
    assert ana.receipts() == [] and ana.pending_updates() == [pending]
    assert store.saved_seq() == 0, "nothing was promised, and nothing of the batch is on disk"

    # Power cut: the door restarts from its store. The phone still carries the update.
    restarted, actuator = keyway.DoorController.restore(store, RecordingActuator(store)), None
    assert restarted.update_seq() == 0
    result = asyncio.run(ana.unlock(door_id, WalletToDoorLink(restarted)))
    assert result.granted and result.updates_carried and result.seq_after == pending.last_seq
    [receipt] = ana.receipts()
    assert receipt.applied_seq == pending.last_seq
    assert store.saved_seq() == pending.last_seq


def doorcode_of(backend, name, door_id):
    """Invites a doorcode holder; returns today's code at `door_id` (what their welcome
    message's link shows them)."""
    resp = backend.json(
        "POST",
        "/v1/invites",
        {
            "name": name,
            "contact": f"{name.lower()}@example.test",
            "access": "daily_doorcode",
            "keys": [{"doors": [door_id], "expiry": "never"}],
        },
    )
    # Person ids are decimal strings in the JSON (exact above 2^53); the bindings give numbers.
    person = int(resp["person"]["person_id"])
    [token] = [m["token"] for m in backend.json("GET", "/v1/outbox") if int(m["person_id"]) == person]
    req = urllib.request.Request(backend.base_url + "/v1/doorcodes")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=15) as r:
        codes = json.loads(r.read().decode())["codes"]
    [entry] = [c for c in codes if c["door_id"] == door_id]
    return person, entry["code"]


def test_a_keypad_code_opens_after_the_entry_is_saved_and_cards_are_read(backend, tmp_path):
    door, store, actuator = python_door(backend.create_door("Lobby"), tmp_path)
    door_id = door.door_id()
    ana = resident(backend, "Ana", [door_id])
    person, code = doorcode_of(backend, "Dee", door_id)
    # The doorcode slot reaches the offline door with Ana's next unlock.
    asyncio.run(ana.sync())
    assert asyncio.run(ana.unlock(door_id, WalletToDoorLink(door))).updates_carried
    assert door.status().doorcode_slots != []
    opened_by_app = len(actuator.opened)

    wrong = str((int(code) + 1) % 10**10).zfill(10)
    refused = door.enter_doorcode(wrong)
    assert not refused.granted and refused.denial == keyway.DenialReason.UNKNOWN_CREDENTIAL
    assert len(actuator.opened) == opened_by_app

    saves = store.saves
    entry = door.enter_doorcode(code)
    assert entry.granted and entry.denial is None
    assert isinstance(entry.activity.event, keyway.Activity.DOORCODE_ENTRY)
    assert entry.activity.event.person_id == person
    assert actuator.opened[-1] == entry
    assert actuator.saves_at_open[-1] == saves + 1, "the entry was saved before the lock opened"

    # A door that cannot save does not admit codes: its guess count would not survive a restart.
    store.fail_saves = 1
    with pytest.raises(keyway.DoorError.Storage):
        door.enter_doorcode(code)
    assert actuator.opened[-1] == entry and len(actuator.opened) == opened_by_app + 1

    card = door.present_keycard(bytes.fromhex("04a1b2c3d4"))
    assert isinstance(card, keyway.CardOutcome.DECIDED)
    assert not card.entry.granted and card.entry.denial == keyway.DenialReason.UNKNOWN_CREDENTIAL
    assert isinstance(card.entry.activity.event, keyway.Activity.KEYCARD_DENIED)
    unreadable = door.present_keycard(b"\x01")
    assert unreadable.entry.denial == keyway.DenialReason.MALFORMED


def test_provisioning_is_checked_and_a_door_is_never_replaced(backend, tmp_path):
    answer = backend.create_door("Lobby")
    other = json.loads(backend.create_door("Garage"))

    tampered = json.loads(answer)
    tampered["door_certificate"] = other["door_certificate"]
    store = FileDoorStore(tmp_path / "door.state")
    with pytest.raises(keyway.DoorError.InvalidProvisioning) as e:
        keyway.DoorController.provision(json.dumps(tampered), store, RecordingActuator())
    assert "another door or another key" in str(e.value)
    with pytest.raises(keyway.DoorError.InvalidProvisioning):
        keyway.DoorController.provision("{}", store, RecordingActuator())
    with pytest.raises(keyway.DoorError.NotProvisioned):
        keyway.DoorController.restore(store, RecordingActuator())
    assert store.saves == 0

    door = keyway.DoorController.provision(answer, store, RecordingActuator())
    with pytest.raises(keyway.DoorError.AlreadyProvisioned) as e:
        keyway.DoorController.provision(json.dumps(other), store, RecordingActuator())
    assert str(door.door_id()) in str(e.value)
    assert keyway.DoorController.restore(store, RecordingActuator()).door_public_key() == door.door_public_key()

    with open(store.path, "r+b") as f:
        f.write(b"\xff\xff\xff")
    with pytest.raises(keyway.DoorError.StateUnreadable):
        keyway.DoorController.restore(store, RecordingActuator())


def test_garbled_frames_end_the_session_and_nothing_more_is_taken(backend, tmp_path):
    door, store, _ = python_door(backend.create_door("Lobby"), tmp_path)
    link = QueueDoorLink()
    conn = door.connect(link, 23)
    assert 1 <= len(link.sent) and all(len(f) <= 20 for f in link.sent), "the challenge, in 20-byte frames"
    with pytest.raises(keyway.DoorError.Session):
        conn.frame_received(b"\xff" * 20)
    assert link.disconnects == 1 and conn.is_over()
    with pytest.raises(keyway.DoorError.SessionOver):
        conn.frame_received(b"\x01" * 20)
    conn.disconnected()
    assert link.disconnects == 1
    assert door.activity() == [], "a session that never decided logs nothing"


class RecordingFeedListener(keyway.DoorFeedListener):
    """The controller's feed listener: every event, with the seq the door's file held when it
    arrived (what a restarted door would have)."""

    def __init__(self, store):
        self.store = store
        self.events = []
        self.changed = threading.Condition()

    def on_event(self, event):
        saved = self.store.saved_seq()
        with self.changed:
            self.events.append((event, saved))
            self.changed.notify_all()

    def wait_for(self, kind, what, timeout=20):
        with self.changed:
            found = self.changed.wait_for(lambda: self.of(kind), timeout)
        assert found, f"no {what} within {timeout} s: {self.events}"
        return found[0]

    def of(self, kind):
        return [(e, saved) for e, saved in self.events if isinstance(e, kind)]


def test_the_python_door_follows_its_feed_a_removal_arrives_without_a_phone_and_stop_ends_it(backend, tmp_path):
    door, store, actuator = python_door(backend.create_door("Lobby"), tmp_path)
    door_id = door.door_id()
    people = []
    for name in ("Bo", "Cy"):
        person, token = backend.invite(name, [door_id])
        asyncio.run(keyway.Wallet.open_in_memory(DictStore()).accept_invite(backend.base_url, token))
        people.append(person)

    with pytest.raises(keyway.DoorError.InvalidInput):
        asyncio.run(door.start_feed("ftp://127.0.0.1/", RecordingFeedListener(store)))
    listener = RecordingFeedListener(store)
    feed = asyncio.run(door.start_feed(backend.base_url, listener))
    connected, _ = listener.wait_for(keyway.DoorFeedEvent.CONNECTED, "session")
    assert connected.update_seq == 0 and feed.is_running()

    removed_at = time.monotonic()
    backend.call("DELETE", f"/v1/people/{people[0]}")
    [task] = backend.json("GET", f"/v1/door-updates?door_id={door_id}")
    reported, saved = listener.wait_for(keyway.DoorFeedEvent.REPORTED, "receipt")
    delivered_in = time.monotonic() - removed_at
    assert delivered_in < 5, f"the door heard it within seconds ({delivered_in:.2f} s)"
    assert reported.applied_seq == task["seq"] and reported.newly_delivered == [task["seq"]]
    assert saved == task["seq"], "the update was on disk before the receipt was posted"
    [(applied, saved_at_applied)] = listener.of(keyway.DoorFeedEvent.APPLIED)
    assert (applied.seq_before, applied.seq_after, applied.rejected_updates) == (0, task["seq"], [])
    assert saved_at_applied == task["seq"]
    assert door.update_seq() == task["seq"] and door.status().revocations >= 1
    assert backend.json("GET", f"/v1/door-updates?door_id={door_id}&state=delivered")[0]["seq"] == task["seq"]
    assert backend.json("GET", f"/v1/door-updates?door_id={door_id}&state=pending") == []
    assert actuator.opened == [], "the feed never opens the lock"
    assert listener.of(keyway.DoorFeedEvent.REFUSED) == []

    # Stopped: the next removal stays pending at Mission Control and the door hears nothing.
    feed.stop()
    deadline = time.monotonic() + 5
    while feed.is_running() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not feed.is_running()
    heard = len(listener.events)
    backend.call("DELETE", f"/v1/people/{people[1]}")
    time.sleep(1.5)
    assert door.update_seq() == task["seq"] and store.saved_seq() == task["seq"]
    assert len(listener.events) == heard, listener.events[heard:]
    assert len(backend.json("GET", f"/v1/door-updates?door_id={door_id}&state=pending")) == 1
    feed.stop()  # a second stop does nothing


def test_a_rekeyed_python_door_keeps_its_state_and_a_resident_opens_it_after_syncing(backend, tmp_path):
    """The door key may have been extracted from the lock: the manager re-keys the door, the
    installer applies the answer in place; a foreign answer is refused and changes nothing."""
    answer = json.loads(backend.create_door("Gym"))
    other = json.loads(backend.create_door("Roof"))
    door, store, actuator = python_door(json.dumps(answer), tmp_path)
    wallet = resident(backend, "Ann", [answer["door_id"]])
    old_key = door.door_public_key()

    with pytest.raises(keyway.DoorError.InvalidProvisioning):
        door.rekey(backend.call("POST", f"/v1/doors/{other['door_id']}/rekey"))
    assert door.door_public_key() == old_key
    saves = store.saves
    door.rekey(backend.call("POST", f"/v1/doors/{answer['door_id']}/rekey"))
    assert door.door_public_key() != old_key and store.saves == saves + 1
    restored = keyway.DoorController.restore(store, RecordingActuator())
    assert restored.door_public_key() == door.door_public_key(), "the new key was saved"

    asyncio.run(wallet.sync())
    report = asyncio.run(wallet.unlock(answer["door_id"], WalletToDoorLink(door)))
    assert report.granted and actuator.opened


def test_a_passing_phone_delivers_the_python_doors_update_without_opening_it(backend, tmp_path):
    door, store, actuator = python_door(backend.create_door("Bike room"), tmp_path)
    door_id = door.door_id()
    ann = resident(backend, "Ann", [door_id])
    assert ann.pending_deliveries() == []
    with pytest.raises(keyway.KeywayError.NotPermitted):
        asyncio.run(ann.deliver(door_id, WalletToDoorLink(door)))
    _bo, task = carry_removal(backend, door_id)
    asyncio.run(ann.sync())
    assert ann.pending_deliveries() == [door_id]

    report = asyncio.run(ann.deliver(door_id, WalletToDoorLink(door)))
    assert report.admitted and report.updates_applied and report.seq_after == task["seq"]
    assert actuator.opened == [], "a delivery never opens the door"
    assert door.update_seq() == task["seq"] and ann.pending_deliveries() == []
    asyncio.run(ann.upload())
    assert backend.json("GET", f"/v1/door-updates?door_id={door_id}&state=pending") == []
