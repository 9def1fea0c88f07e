"""The resident's story against the reference backend on 127.0.0.1, through the compiled
library: accept an invite, sync, unlock the (simulated) door through a Python BLE link while
carrying a door update, upload the receipt, and see the manager's view change."""

import asyncio

import pytest

import keyway
import keyway_test_support
from support import DictStore, SimulatedDoorLink


def test_invite_sync_unlock_carry_update_and_upload(backend, tmp_path):
    provisioning = backend.create_door("Lobby")
    door = keyway_test_support.SimulatedDoor.provisioned(provisioning)
    door_id = door.door_id()
    _, token = backend.invite("Ana", [door_id], may_share=True)

    wallet = keyway.Wallet.open(str(tmp_path / "ana.db"), DictStore())
    assert not wallet.is_enrolled()
    with pytest.raises(keyway.KeywayError.NotEnrolled):
        asyncio.run(wallet.sync())

    summary = asyncio.run(wallet.accept_invite(backend.base_url, token))
    assert summary.keys_received == 1 and summary.doors == 1
    assert wallet.is_enrolled()
    [key] = wallet.keys()
    assert key.resident and key.may_share and not key.is_guest
    assert key.state == keyway.KeyState.ACTIVE()
    assert key.doors == [door_id]
    assert [(d.door_id, d.name) for d in wallet.doors()] == [(door_id, "Lobby")]

    # The same invite cannot be used twice.
    with pytest.raises(keyway.KeywayError.Rejected):
        asyncio.run(keyway.Wallet.open_in_memory(DictStore()).accept_invite(backend.base_url, token))

    # The manager removes another person: the offline door needs a door update, and Ana's
    # phone is handed it at her next sync.
    bo, bo_token = backend.invite("Bo", [door_id])
    asyncio.run(keyway.Wallet.open_in_memory(DictStore()).accept_invite(backend.base_url, bo_token))
    backend.call("DELETE", f"/v1/people/{bo}")
    tasks = backend.json("GET", f"/v1/door-updates?door_id={door_id}&state=pending")
    assert len(tasks) == 1

    assert asyncio.run(wallet.sync()).doors_with_updates == 1
    [pending] = wallet.pending_updates()
    assert pending.door_id == door_id and pending.count == 1

    result = asyncio.run(wallet.unlock(door_id, SimulatedDoorLink(door, mtu=185)))
    assert result.granted and result.updates_carried
    assert (result.seq_before, result.seq_after) == (0, pending.last_seq)
    assert result.door_name == "Lobby" and result.key_id == key.key_id
    assert door.update_seq() == pending.last_seq
    assert wallet.pending_updates() == []

    uploaded = asyncio.run(wallet.upload())
    assert uploaded.receipts_uploaded == 1
    assert uploaded.updates_confirmed == 1
    assert uploaded.new_activity >= 1
    assert all(r.uploaded for r in wallet.receipts())
    assert backend.json("GET", f"/v1/door-updates?door_id={door_id}&state=pending") == []
    activity = backend.json("GET", f"/v1/activity?door_id={door_id}")
    assert len(activity) >= 1

    # Uploading again sends nothing new.
    assert asyncio.run(wallet.upload()).receipts_uploaded == 0


def test_revoked_key_shows_revoked_and_no_longer_opens(backend):
    door = keyway_test_support.SimulatedDoor.provisioned(backend.create_door("Gym"))
    person, token = backend.invite("Cy", [door.door_id()])
    wallet = keyway.Wallet.open_in_memory(DictStore())
    asyncio.run(wallet.accept_invite(backend.base_url, token))
    [key] = wallet.keys()

    backend.call("DELETE", f"/v1/keys/{key.key_id}")
    assert asyncio.run(wallet.sync()).keys_revoked >= 1
    [after] = wallet.keys()
    assert after.state == keyway.KeyState.REVOKED()
    with pytest.raises(keyway.KeywayError.NoKeyForDoor):
        asyncio.run(wallet.unlock(door.door_id(), SimulatedDoorLink(door)))


def test_unreachable_backend_is_a_network_error():
    wallet = keyway.Wallet.open_in_memory(DictStore())
    with pytest.raises((keyway.KeywayError.Network, keyway.KeywayError.InvalidInput)):
        asyncio.run(wallet.accept_invite("http://127.0.0.1:9", "no-such-invite"))
    assert not wallet.is_enrolled()
