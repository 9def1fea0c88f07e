"""Discovery: a door's advertisement says which door it is (and its update seq, never who
uses it); parse_advertisement reads it against the wallet; an unlock at another door than the
one asked for fails as WrongDoor, not as an untrusted door."""

import asyncio
import datetime as dt

import pytest

import keyway
import keyway_test_support
from backend import MissionControl, binary
from support import DictStore, SimulatedDoorLink

UTC = dt.timezone.utc


def guest_wallet(prop, doors):
    wallet = keyway.Wallet.open_in_memory(DictStore())
    now = dt.datetime.now(UTC)
    offer = prop.issue_guest_offer(wallet.device_public_key(), doors, now - dt.timedelta(minutes=1), now + dt.timedelta(days=1))
    wallet.accept_guest_key(offer)
    return wallet


def test_parse_advertisement_names_the_door_and_what_this_wallet_can_do_there():
    prop = keyway_test_support.SimulatedProperty()
    lobby = prop.add_door(7, "Lobby")
    prop.add_door(8, "Garage")
    wallet = guest_wallet(prop, [7])

    ad = lobby.advertisement()
    assert len(ad) == 9 and len(lobby.scan_response()) <= 31
    seen = wallet.parse_advertisement(ad, -55)
    assert (seen.door_id, seen.can_open, seen.carries_updates, seen.seq_hint) == (7, True, False, 0)
    assert seen.proximity == keyway.Proximity.NEAR and seen.rssi == -55
    # The raw scan response (Android's ScanRecord.getBytes) reads the same.
    assert wallet.parse_advertisement(lobby.scan_response(), -55) == seen

    assert wallet.near_rssi() == -70
    assert wallet.parse_advertisement(ad, -80).proximity == keyway.Proximity.FAR
    wallet.set_near_rssi(-85)
    assert wallet.parse_advertisement(ad, -80).proximity == keyway.Proximity.NEAR
    assert wallet.parse_advertisement(ad, None).proximity == keyway.Proximity.UNKNOWN
    assert wallet.parse_advertisement(ad, 127).proximity == keyway.Proximity.UNKNOWN

    # A door this wallet has no key for, and one it has never heard of: reported, not errors.
    garage = wallet.parse_advertisement(keyway.door_advertisement(8, 3), -60)
    assert (garage.door_id, garage.can_open, garage.seq_hint) == (8, False, 3)
    stranger = wallet.parse_advertisement(keyway.door_advertisement(99, 0), -60)
    assert (stranger.can_open, stranger.door_name) == (False, None)

    for bad in [b"", b"\x01\x02", bytes([2]) + ad[1:], b"\x02\x01\x06"]:
        with pytest.raises(keyway.KeywayError.InvalidPayload) as e:
            wallet.parse_advertisement(bad, -60)
        assert "advertisement" in str(e.value)


def test_the_advertisement_says_when_this_phone_carries_updates_for_the_door(tmp_path):
    mc = MissionControl(binary(), str(tmp_path / "mc.db"))
    try:
        mc.create_property()
        door = keyway_test_support.SimulatedDoor.provisioned(mc.create_door("Lobby"))
        door_id = door.door_id()
        _, token = mc.invite("Ana", [door_id])
        wallet = keyway.Wallet.open_in_memory(DictStore())
        asyncio.run(wallet.accept_invite(mc.base_url, token))
        bo, _ = mc.invite("Bo", [door_id])
        mc.call("DELETE", f"/v1/people/{bo}")
        asyncio.run(wallet.sync())

        seen = wallet.parse_advertisement(door.advertisement(), -50)
        assert (seen.door_name, seen.can_open, seen.carries_updates) == ("Lobby", True, True)
        asyncio.run(wallet.unlock(door_id, SimulatedDoorLink(door)))
        after = wallet.parse_advertisement(door.advertisement(), -50)
        assert not after.carries_updates and after.seq_hint == door.update_seq() > 0
    finally:
        mc.stop()


def test_another_door_is_wrong_door_and_an_impostor_is_still_not_trusted():
    prop = keyway_test_support.SimulatedProperty()
    prop.add_door(7, "Lobby")
    garage = prop.add_door(8, "Garage")
    wallet = guest_wallet(prop, [7])
    link = SimulatedDoorLink(garage)
    with pytest.raises(keyway.KeywayError.WrongDoor) as e:
        asyncio.run(wallet.unlock(7, link))
    assert str(e.value) == "this is door 8, not door 7: connect to door 7"
    assert link.sent == [], "nothing was sent to the other door"

    # A peripheral claiming to be door 7 without its key: not trusted, as before.
    impostor = keyway_test_support.SimulatedProperty().add_door(7, "Lobby")
    with pytest.raises(keyway.KeywayError.DoorNotTrusted):
        asyncio.run(wallet.unlock(7, SimulatedDoorLink(impostor)))
