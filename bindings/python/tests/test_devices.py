"""A person's devices and revalidation through the compiled library against the reference
backend: a second phone enrols with a one-time device code from the first, a removed phone is
refused at the door once another phone carried the removal, and every key says until when its
phone must sync."""

import asyncio
import datetime

import pytest

import keyway
import keyway_test_support
from support import DictStore, SimulatedDoorLink


def test_a_second_phone_enrols_with_a_device_code_and_the_removed_one_is_refused(backend):
    door = keyway_test_support.SimulatedDoor.provisioned(backend.create_door("Garage"))
    door_id = door.door_id()
    person, token = backend.invite("Di", [door_id])
    old = keyway.Wallet.open_in_memory(DictStore())
    asyncio.run(old.accept_invite(backend.base_url, token))
    [key] = old.keys()
    # Sync needed within the property's window (7 days by default), not at the lease's end.
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now < key.sync_needed_by <= now + datetime.timedelta(days=7, minutes=1)

    code = asyncio.run(old.device_code())
    assert code.code.startswith("dcode_") and code.expires_at > now
    new = keyway.Wallet.open_in_memory(DictStore())
    asyncio.run(new.accept_invite(backend.base_url, code.code))
    assert [k.key_id for k in new.keys()] == [key.key_id]
    assert asyncio.run(new.unlock(door_id, SimulatedDoorLink(door))).granted
    assert asyncio.run(old.unlock(door_id, SimulatedDoorLink(door))).granted

    devices = backend.json("GET", f"/v1/people/{person}/devices")
    assert len(devices) == 2
    backend.call("DELETE", f"/v1/people/{person}/devices/{devices[0]['device_id']}")
    with pytest.raises(keyway.KeywayError.Unauthorized):
        asyncio.run(old.sync())

    asyncio.run(new.sync())
    carried = asyncio.run(new.unlock(door_id, SimulatedDoorLink(door)))
    assert carried.granted and carried.updates_carried
    refused = asyncio.run(old.unlock(door_id, SimulatedDoorLink(door)))
    assert not refused.granted
    assert refused.denial == keyway.DenialReason.REVOKED_DEVICE
