"""A guest's whole offline story through the compiled library: accept a guest key offer,
see the key and the door, and unlock a simulated door (the real door engine) through a BLE
link implemented here in Python."""

import asyncio
import datetime as dt

import pytest

import keyway
import keyway_test_support
from support import DictStore, SimulatedDoorLink

UTC = dt.timezone.utc


def now():
    return dt.datetime.now(UTC)


@pytest.fixture
def property_with_doors():
    prop = keyway_test_support.SimulatedProperty()
    lobby = prop.add_door(7, "Lobby")
    garage = prop.add_door(8, "Garage")
    return prop, lobby, garage


def guest_wallet(prop, doors, start=None, expiry=None, path=None):
    store = DictStore()
    wallet = keyway.Wallet.open(path, store) if path else keyway.Wallet.open_in_memory(store)
    start = start or now() - dt.timedelta(minutes=1)
    expiry = expiry or now() + dt.timedelta(days=1)
    offer = prop.issue_guest_offer(wallet.device_public_key(), doors, start, expiry)
    assert offer.startswith("KWGK1.")
    return wallet, offer


def test_accepted_guest_key_is_listed_active_with_its_doors(property_with_doors, tmp_path):
    prop, _, _ = property_with_doors
    wallet, offer = guest_wallet(prop, [7], path=str(tmp_path / "g.db"))
    key = wallet.accept_guest_key(offer)
    assert key.is_guest and not key.resident and not key.may_share
    assert key.doors == [7]
    assert key.label.startswith("g")
    assert key.state == keyway.KeyState.ACTIVE()
    assert wallet.keys() == [key]
    assert [d.door_id for d in wallet.doors()] == [7]

    later = wallet.keys_at(now() + dt.timedelta(days=2))
    assert isinstance(later[0].state, keyway.KeyState.EXPIRED)
    assert later[0].state.at == key.expiry


def test_offer_for_another_device_is_not_permitted(property_with_doors):
    prop, _, _ = property_with_doors
    _, offer = guest_wallet(prop, [7])
    stranger = keyway.Wallet.open_in_memory(DictStore())
    with pytest.raises(keyway.KeywayError.NotPermitted):
        stranger.accept_guest_key(offer)
    assert stranger.keys() == []


def test_future_key_is_upcoming_and_does_not_open_yet(property_with_doors):
    prop, lobby, _ = property_with_doors
    start = now() + dt.timedelta(hours=2)
    wallet, offer = guest_wallet(prop, [7], start=start, expiry=start + dt.timedelta(days=1))
    key = wallet.accept_guest_key(offer)
    assert isinstance(key.state, keyway.KeyState.UPCOMING)
    with pytest.raises(keyway.KeywayError.NoKeyForDoor):
        asyncio.run(wallet.unlock(7, SimulatedDoorLink(lobby)))
    assert lobby.activity() == []


@pytest.mark.parametrize("mtu", [23, 247, 517])
def test_unlock_through_a_python_link_opens_the_door_and_keeps_its_receipt(property_with_doors, mtu):
    prop, lobby, _ = property_with_doors
    wallet, offer = guest_wallet(prop, [7])
    key = wallet.accept_guest_key(offer)
    link = SimulatedDoorLink(lobby, mtu=mtu)

    result = asyncio.run(wallet.unlock(7, link))

    assert result.granted and result.denial is None
    assert result.door_id == 7
    assert link.closed == 1
    assert all(len(f) <= mtu - 3 for f in link.sent)
    if mtu == 23:
        assert len(link.sent) > 5, "a request must be split over several ATT packets at MTU 23"
    door_log = lobby.activity()
    assert len(door_log) == 1
    event = door_log[0].event
    assert isinstance(event, keyway.Activity.APP_UNLOCK)
    assert event.key_id == key.key_id and event.guest

    receipts = wallet.receipts()
    assert len(receipts) == 1
    assert receipts[0].door_id == 7 and not receipts[0].uploaded
    # A door known only from a guest offer is not the guest's property: the wallet asks it
    # for no activity, and its receipt stays on the device.
    assert receipts[0].activity == []
    assert result.activity_records == 0


def test_key_for_one_door_does_not_unlock_another(property_with_doors):
    prop, _, garage = property_with_doors
    wallet, offer = guest_wallet(prop, [7])
    wallet.accept_guest_key(offer)
    # The guest's wallet does not even know the garage.
    with pytest.raises(keyway.KeywayError.UnknownDoor):
        asyncio.run(wallet.unlock(8, SimulatedDoorLink(garage)))
    assert garage.activity() == []


def test_a_door_that_is_not_the_certified_one_is_not_trusted(property_with_doors):
    prop, lobby, _ = property_with_doors
    impostor_property = keyway_test_support.SimulatedProperty()
    impostor = impostor_property.add_door(7, "Fake lobby")
    wallet, offer = guest_wallet(prop, [7])
    wallet.accept_guest_key(offer)
    with pytest.raises(keyway.KeywayError.DoorNotTrusted):
        asyncio.run(wallet.unlock(7, SimulatedDoorLink(impostor)))
    assert impostor.activity() == [] and lobby.activity() == []
    assert wallet.receipts() == []


def test_tampered_frames_and_dropped_links_fail_without_a_receipt(property_with_doors):
    prop, lobby, _ = property_with_doors
    wallet, offer = guest_wallet(prop, [7])
    wallet.accept_guest_key(offer)

    def flip_last_byte(frame):
        frame = bytearray(frame)
        frame[-1] ^= 0x01
        return bytes(frame)

    with pytest.raises((keyway.KeywayError.DoorNotTrusted, keyway.KeywayError.DoorExchange)):
        asyncio.run(wallet.unlock(7, SimulatedDoorLink(lobby, mtu=247, tamper=flip_last_byte)))

    with pytest.raises(keyway.KeywayError.LinkDisconnected):
        asyncio.run(wallet.unlock(7, SimulatedDoorLink(lobby, mtu=23, drop_after_sends=2)))

    class SilentDoor(SimulatedDoorLink):
        def receive_frame(self, timeout_ms):
            assert 0 < timeout_ms <= 10_000
            raise keyway.CallbackError.LinkTimeout()

    with pytest.raises(keyway.KeywayError.LinkTimeout):
        asyncio.run(wallet.unlock(7, SilentDoor(lobby)))
    assert wallet.receipts() == []

    result = asyncio.run(wallet.unlock(7, SimulatedDoorLink(lobby)))
    assert result.granted
    assert len(wallet.receipts()) == 1
