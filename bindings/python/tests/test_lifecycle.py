"""The wallet's life on a device: sign-out wipes it, and a reinstall that kept only one of
the database and the secure store leaves a consistent wallet (enrolled and working, or
clearly not enrolled), against the reference backend."""

import asyncio

import pytest

import keyway
import keyway_test_support
from backend import MissionControl, binary
from support import DictStore


@pytest.fixture
def enrolled(tmp_path):
    """A wallet enrolled with one key for one door, its secure store and database path."""
    mc = MissionControl(binary(), str(tmp_path / "mc.db"))
    try:
        mc.create_property()
        door_id = keyway_test_support.SimulatedDoor.provisioned(mc.create_door("Lobby")).door_id()
        _, token = mc.invite("Ana", [door_id])
        store = DictStore()
        db = str(tmp_path / "ana.db")
        wallet = keyway.Wallet.open(db, store)
        asyncio.run(wallet.accept_invite(mc.base_url, token))
        yield mc, wallet, store, db, door_id
    finally:
        mc.stop()


def test_reset_wipes_the_database_and_the_wallets_secure_store_entries(enrolled):
    mc, wallet, store, _, door_id = enrolled
    old_device = wallet.device_public_key()
    assert sorted(store.items) == ["backend-url", "device-key", "device-token", "property-1"]
    assert len(wallet.keys()) == 1

    wallet.reset()

    assert list(store.items) == ["device-key"], "only the new device key is left"
    assert wallet.device_public_key() != old_device
    assert not wallet.is_enrolled()
    assert wallet.keys() == [] and wallet.doors() == [] and wallet.receipts() == []
    assert wallet.pending_updates() == []
    with pytest.raises(keyway.KeywayError.NotEnrolled):
        asyncio.run(wallet.sync())
    # The signed-out wallet starts over: a new invite enrolls it again.
    _, token = mc.invite("Anna", [door_id])
    asyncio.run(wallet.accept_invite(mc.base_url, token))
    assert wallet.is_enrolled() and len(wallet.keys()) == 1


def test_reinstall_that_kept_the_secure_store_is_enrolled_and_sync_brings_the_keys_back(enrolled, tmp_path):
    _, wallet, store, _, _ = enrolled
    before = wallet.keys()
    del wallet

    reinstalled = keyway.Wallet.open(str(tmp_path / "fresh.db"), store)
    assert reinstalled.is_enrolled()
    assert reinstalled.keys() == []
    summary = asyncio.run(reinstalled.sync())
    assert summary.keys_received == 1
    assert reinstalled.keys() == before
    assert [d.name for d in reinstalled.doors()] == ["Lobby"]


def test_reinstall_that_kept_only_the_database_is_clearly_not_enrolled(enrolled):
    _, wallet, _, db, _ = enrolled
    del wallet

    reinstalled = keyway.Wallet.open(db, DictStore())
    assert not reinstalled.is_enrolled()
    assert reinstalled.keys() == [], "keys certified to a device key this phone no longer has"
    assert reinstalled.doors() == []
    with pytest.raises(keyway.KeywayError.NotEnrolled):
        asyncio.run(reinstalled.sync())
