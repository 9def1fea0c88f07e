"""One wallet at two properties, each a Mission Control of its own on 127.0.0.1 whose ids
collide (both have door 1 and key 1): both properties' doors open with the right key, the
advertisement names both candidates, sync and upload go to each backend (one failing stops
nothing of the other), a revocation at one leaves the other, leaving one keeps the other, and
reset wipes both."""

import asyncio

import pytest

import keyway
import keyway_test_support
from support import DictStore, SimulatedDoorLink

QUICK = keyway.NetworkOptions(timeout_ms=500, attempts=1)


class Keys(keyway.KeyListener):
    def __init__(self):
        self.updates = []

    def on_update(self, update):
        self.updates.append(update)


def enrol_at_both(backend, second_backend, store, db):
    door_a = keyway_test_support.SimulatedDoor.provisioned(backend.create_door("Lobby"))
    door_b = keyway_test_support.SimulatedDoor.provisioned(second_backend.create_door("Gate"))
    _, token_a = backend.invite("Ana", [door_a.door_id()])
    _, token_b = second_backend.invite("Ana", [door_b.door_id()])
    wallet = keyway.Wallet.open(db, store)
    asyncio.run(wallet.accept_invite(backend.base_url, token_a))
    asyncio.run(wallet.accept_invite(second_backend.base_url, token_b))
    return wallet, door_a, door_b


def test_one_wallet_opens_the_doors_of_two_properties_whose_ids_collide(backend, second_backend, tmp_path):
    store = DictStore()
    wallet, door_a, door_b = enrol_at_both(backend, second_backend, store, str(tmp_path / "ana.db"))
    assert door_a.door_id() == door_b.door_id(), "each backend numbers its doors from 1"
    door = door_a.door_id()

    a, b = wallet.properties()
    assert (a.backend_url, a.name) == (backend.base_url, "Elm Court")
    assert (b.backend_url, b.name) == (second_backend.base_url, "Oak Row")
    assert sorted(k.property.id for k in wallet.keys()) == [a.id, b.id]
    assert sorted((d.property.id, d.door_id, d.name) for d in wallet.doors()) == [
        (a.id, door, "Lobby"),
        (b.id, door, "Gate"),
    ]

    # The advertisement carries the door id alone: both properties are candidates.
    advert = wallet.parse_advertisement(keyway.door_advertisement(door, 0), -50)
    assert advert.can_open and advert.property_ids == [a.id, b.id]

    # The door's signed challenge picks the property.
    at_b = asyncio.run(wallet.unlock(door, SimulatedDoorLink(door_b, mtu=185)))
    assert at_b.granted and at_b.property.id == b.id and at_b.door_name == "Gate"
    at_a = asyncio.run(wallet.unlock(door, SimulatedDoorLink(door_a, mtu=185)))
    assert at_a.granted and at_a.property.id == a.id and at_a.door_name == "Lobby"
    assert sorted(r.property_id for r in wallet.receipts()) == [a.id, b.id]

    # Sync per property; each receipt goes to its own backend.
    results = asyncio.run(wallet.sync_each())
    assert [(r.property.id, r.error) for r in results] == [(a.id, None), (b.id, None)]
    assert asyncio.run(wallet.upload()).receipts_uploaded == 2
    assert len(backend.json("GET", f"/v1/activity?door_id={door}")) >= 1
    assert len(second_backend.json("GET", f"/v1/activity?door_id={door}")) >= 1

    # A revocation at Elm Court leaves Oak Row's key.
    [key_a] = [k for k in wallet.keys() if k.property.id == a.id]
    backend.call("DELETE", f"/v1/keys/{key_a.key_id}")
    assert asyncio.run(wallet.sync()).keys_revoked >= 1
    states = {k.property.id: k.state for k in wallet.keys()}
    assert states == {a.id: keyway.KeyState.REVOKED(), b.id: keyway.KeyState.ACTIVE()}
    assert asyncio.run(wallet.unlock(door, SimulatedDoorLink(door_b))).granted
    # Oak Row's key is not presented as Elm Court's: Elm's door fails the check of Oak's door.
    with pytest.raises(keyway.KeywayError.DoorNotTrusted):
        asyncio.run(wallet.unlock(door, SimulatedDoorLink(door_a)))

    # One backend down: the other still syncs, and says so per property.
    backend.stop()
    results = asyncio.run(wallet.sync_each(QUICK))
    assert results[0].property.id == a.id and results[0].summary is None and results[0].error
    assert results[1].property.id == b.id and results[1].summary is not None and results[1].error is None
    with pytest.raises(keyway.KeywayError.Network):
        asyncio.run(wallet.sync(QUICK))

    # Reset wipes both properties and both properties' credentials.
    wallet.reset()
    assert wallet.properties() == [] and wallet.keys() == [] and wallet.doors() == []
    assert wallet.receipts() == [] and not wallet.is_enrolled()
    assert list(store.items) == ["device-key"]


def test_leaving_one_property_keeps_the_other_and_a_joined_property_is_not_joined_twice(
    backend, second_backend, tmp_path
):
    store = DictStore()
    wallet, door_a, door_b = enrol_at_both(backend, second_backend, store, str(tmp_path / "ana.db"))
    a, b = wallet.properties()

    # Another invite of a property this wallet has joined is refused before it is spent.
    _, again = backend.invite("Anna", [door_a.door_id()])
    with pytest.raises(keyway.KeywayError.NotPermitted) as refused:
        asyncio.run(wallet.accept_invite(backend.base_url, again))
    assert "already joined" in str(refused.value) and "not used" in str(refused.value)
    other = keyway.Wallet.open_in_memory(DictStore())
    assert asyncio.run(other.accept_invite(backend.base_url, again)).keys_received == 1, "the invite was not spent"

    listener = Keys()
    sub = wallet.subscribe_keys(listener)
    wallet.leave_property(a.id)
    assert [p.id for p in wallet.properties()] == [b.id]
    assert [k.property.id for k in wallet.keys()] == [b.id]
    removed = [c for c in listener.updates[-1].changes if c.is_removed()]
    assert [c.property.id for c in removed] == [a.id]
    sub.cancel()
    assert asyncio.run(wallet.unlock(door_b.door_id(), SimulatedDoorLink(door_b))).granted
    [result] = asyncio.run(wallet.sync_each())
    assert result.property.id == b.id and result.error is None
    with pytest.raises(keyway.KeywayError.InvalidInput):
        wallet.leave_property(a.id)

    # Reopened, the wallet is still at Oak Row alone.
    del wallet
    reopened = keyway.Wallet.open(str(tmp_path / "ana.db"), store)
    assert [p.name for p in reopened.properties()] == ["Oak Row"]
    # A reinstall that lost the database finds Oak Row again in the secure store.
    fresh = keyway.Wallet.open(str(tmp_path / "fresh.db"), store)
    assert [(p.id, p.name) for p in fresh.properties()] == [(b.id, "Oak Row")]
    assert asyncio.run(fresh.sync()).keys_received == 1
