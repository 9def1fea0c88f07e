"""Streams: the key observer sees what a sync changed (a revocation, a shortened key replaced
by a new one) and whether a sync is needed; unlock listeners see each unlock's progress, for a
granted unlock that delivers door updates and for one the door denies."""

import asyncio
import threading
import time

import pytest

import keyway
import keyway_test_support
from support import DictStore, SimulatedDoorLink


class Keys(keyway.KeyListener):
    def __init__(self):
        self.updates = []

    def on_update(self, update):
        self.updates.append(update)

    def changes(self):
        return [c for u in self.updates for c in u.changes]


class Progress(keyway.UnlockListener):
    def __init__(self):
        self.events = []
        self.threads = set()

    def on_event(self, event):
        self.threads.add(threading.get_ident())
        self.events.append(event)

    def kinds(self):
        return [type(e).__name__.split(".")[-1] for e in self.events]


def enrolled(backend, name, doors):
    _, token = backend.invite(name, doors)
    wallet = keyway.Wallet.open_in_memory(DictStore())
    asyncio.run(wallet.accept_invite(backend.base_url, token))
    return wallet


def test_the_key_observer_sees_a_revocation_after_sync(backend):
    door = keyway_test_support.SimulatedDoor.provisioned(backend.create_door("Gym"))
    wallet = enrolled(backend, "Cy", [door.door_id()])
    listener = Keys()
    subscription = wallet.subscribe_keys(listener)
    [first] = listener.updates
    [key] = first.keys
    assert key.state == keyway.KeyState.ACTIVE() and first.changes == []

    backend.call("DELETE", f"/v1/keys/{key.key_id}")
    asyncio.run(wallet.sync())
    revoked = [c for c in listener.changes() if c.is_revoked()]
    assert [c.key.key_id for c in revoked] == [key.key_id]
    assert revoked[0].key.state == keyway.KeyState.REVOKED()
    assert any(c.is_synced() for c in listener.changes())
    assert listener.updates[-1].keys[0].state == keyway.KeyState.REVOKED()

    # Cancelled: no more deliveries.
    subscription.cancel()
    seen = len(listener.updates)
    asyncio.run(wallet.sync())
    wallet.refresh_key_states()
    assert len(listener.updates) == seen


def test_a_shortened_key_is_replaced_not_revoked(backend):
    door = keyway_test_support.SimulatedDoor.provisioned(backend.create_door("Pool"))
    wallet = enrolled(backend, "Di", [door.door_id()])
    [key] = wallet.keys()
    listener = Keys()
    subscription = wallet.subscribe_keys(listener)  # noqa: F841 (held: dropping it unsubscribes)
    soon = int(time.time()) + 3 * 3600
    backend.json("PATCH", f"/v1/keys/{key.key_id}", {"expiry": soon})
    asyncio.run(wallet.sync())
    states = {k.key_id: k.state for k in wallet.keys()}
    [new_id] = [k for k in states if k != key.key_id]
    assert states[key.key_id] == keyway.KeyState.REPLACED(replaced_by=new_id)
    changes = listener.changes()
    assert any(c.is_replaced() and c.key.key_id == key.key_id and c.replaced_by == new_id for c in changes)
    assert any(c.is_added() and c.key.key_id == new_id for c in changes)
    # The new key ends within a day: said once.
    assert [c.key.key_id for c in changes if c.is_expiring()] == [new_id]
    assert not any(c.is_revoked() for c in changes)


def test_a_failed_sync_is_a_sync_need_and_the_next_one_clears_it(backend):
    door = keyway_test_support.SimulatedDoor.provisioned(backend.create_door("Roof"))
    wallet = enrolled(backend, "Ed", [door.door_id()])
    listener = Keys()
    subscription = wallet.subscribe_keys(listener)  # noqa: F841 (held: dropping it unsubscribes)
    backend.stop()
    with pytest.raises(keyway.KeywayError.Network):
        asyncio.run(wallet.sync(keyway.NetworkOptions(timeout_ms=300, attempts=1)))
    [need] = [c for c in listener.changes() if c.is_needs_sync()]
    assert need.reason.is_sync_failed()
    # A listener that subscribes now hears the need at once.
    late = Keys()
    late_subscription = wallet.subscribe_keys(late)  # noqa: F841
    assert [c.is_needs_sync() for c in late.updates[0].changes] == [True]


def test_progress_of_a_granted_unlock_delivering_updates_and_of_a_denied_one(backend):
    door = keyway_test_support.SimulatedDoor.provisioned(backend.create_door("Lobby"))
    door_id = door.door_id()
    ana = enrolled(backend, "Ana", [door_id])
    bo = enrolled(backend, "Bo", [door_id])
    [ana_key] = ana.keys()
    # The manager deletes Ana's key; Bo's phone carries the revocation to the offline door.
    backend.call("DELETE", f"/v1/keys/{ana_key.key_id}")
    assert asyncio.run(bo.sync()).doors_with_updates == 1

    bo_progress = Progress()
    bo_subscription = bo.subscribe_unlock_events(bo_progress)  # noqa: F841
    report = asyncio.run(bo.unlock(door_id, SimulatedDoorLink(door)))
    assert report.granted and report.updates_carried
    assert bo_progress.kinds() == [
        "CONNECTING", "DOOR_VERIFIED", "REQUEST_SENT", "GRANTED", "UPDATES_DELIVERED", "RECEIPT_STORED",
    ]
    verified, sent, delivered = bo_progress.events[1], bo_progress.events[2], bo_progress.events[4]
    assert verified.carrying_updates and verified.door_id == door_id
    assert sent.key_id == report.key_id
    assert (delivered.seq_before, delivered.seq_after) == (report.seq_before, report.seq_after)

    # Ana has not synced: her phone still thinks the key works; the door refuses it.
    ana_progress = Progress()
    ana_subscription = ana.subscribe_unlock_events(ana_progress)  # noqa: F841
    refused = asyncio.run(ana.unlock(door_id, SimulatedDoorLink(door)))
    assert not refused.granted
    # A refused presenter gets no receipt: the run ends with the denial.
    assert ana_progress.kinds() == ["CONNECTING", "DOOR_VERIFIED", "REQUEST_SENT", "DENIED"]
    assert ana_progress.events[3].reason == keyway.DenialReason.REVOKED_KEY
    assert not ana_progress.events[1].carrying_updates


def test_a_failed_unlock_reports_its_category():
    prop = keyway_test_support.SimulatedProperty()
    prop.add_door(7, "Lobby")
    other = prop.add_door(8, "Garage")
    wallet = keyway.Wallet.open_in_memory(DictStore())
    now = time.time()
    import datetime as dt

    utc = dt.timezone.utc
    offer = prop.issue_guest_offer(
        wallet.device_public_key(), [7], dt.datetime.fromtimestamp(now - 60, utc), dt.datetime.fromtimestamp(now + 86400, utc)
    )
    wallet.accept_guest_key(offer)
    progress = Progress()
    subscription = wallet.subscribe_unlock_events(progress)  # noqa: F841
    with pytest.raises(keyway.KeywayError.WrongDoor):
        asyncio.run(wallet.unlock(7, SimulatedDoorLink(other)))
    assert progress.kinds() == ["CONNECTING", "FAILED"]
    failed = progress.events[-1]
    assert failed.kind == keyway.ErrorKind.WRONG_DOOR
    assert failed.message == "this is door 8, not door 7: connect to door 7"
