"""Keyway over a real BLE host stack (Bumble) on a virtual radio: the wallet's BleLink on
Bumble's GATT client, the door SDK behind Bumble's GATT server (bumble_gatt.py), with real
ATT MTU exchange, discovery, CCCD writes, writes without response and notifications. Resident,
guest, update-carrying and denied unlocks at ATT MTUs 23, 185, 247 and 517; a connection cut
mid-exchange; a door whose notifications never arrive; the advertisement as Bumble scans it."""

import asyncio
import datetime as dt
import time

import pytest

import bumble  # noqa: E402  (scripts/setup puts it in the tests' virtual environment)

import keyway  # noqa: E402
import bumble_gatt as bg  # noqa: E402
from door_support import python_door  # noqa: E402
from support import DictStore  # noqa: E402

UTC = dt.timezone.utc
# The whole exchange, bounded well above what the virtual radio needs (tens of milliseconds).
UNLOCK = keyway.UnlockOptions(timeout_ms=5000)


class Site:
    """A property with one door run by a Python controller on the door SDK, a resident who
    may share, a guest she shared with, and Bo, whom the manager is about to remove."""

    def __init__(self, backend, tmp_path):
        self.backend = backend
        self.door, self.store, self.actuator = python_door(backend.create_door("Lobby"), tmp_path)
        self.door_id = self.door.door_id()
        self.ana = self.enrol("Ana", may_share=True)
        self.bo_person, self.bo = self.enrol_person("Bo")
        self.guest = keyway.Wallet.open_in_memory(DictStore())
        [key] = self.ana.keys()
        now = dt.datetime.now(UTC)
        offer = self.ana.share_offline(
            key.key_id,
            self.guest.share_request("Gus"),
            [self.door_id],
            key.start,
            now + dt.timedelta(days=1),
        )
        self.guest.accept_guest_key(offer)

    def enrol_person(self, name, may_share=False):
        person, token = self.backend.invite(name, [self.door_id], may_share=may_share)
        wallet = keyway.Wallet.open_in_memory(DictStore())
        asyncio.run(wallet.accept_invite(self.backend.base_url, token))
        return person, wallet

    def enrol(self, name, may_share=False):
        return self.enrol_person(name, may_share)[1]

    def remove(self, person):
        self.backend.call("DELETE", f"/v1/people/{person}")


async def unlock_over_ble(radio, peripheral, wallet, door_id, mtu, prepare=None):
    await peripheral.ready()
    link = await bg.connect_phone(radio, mtu)
    if prepare is not None:
        prepare(link)
    try:
        return await wallet.unlock(door_id, link, UNLOCK), link
    finally:
        assert link.disconnects == 1, "the wallet disconnects once per unlock"


@pytest.mark.parametrize("mtu", [23, 185, 247, 517])
def test_resident_guest_update_carrying_and_denied_unlocks_over_bumble(backend, tmp_path, mtu):
    site = Site(backend, tmp_path)
    # Sixty removals make a batch longer than one packet even at the largest MTU.
    removed = [backend.invite(f"Cy{i}", [site.door_id])[0] for i in range(60)]

    async def scenario():
        radio = bg.Radio()
        await radio.power_on()
        peripheral = bg.DoorPeripheral(radio.door_device, site.door)
        expected = keyway.frame_capacity(bg.ble_frame_mtu(mtu))

        result, link = await unlock_over_ble(radio, peripheral, site.ana, site.door_id, mtu)
        assert result.granted and not result.is_guest and not result.updates_carried
        assert link.att_mtu == mtu, "Bumble negotiated the MTU the phone asked for"
        assert all(len(f) <= expected for f in link.written + peripheral.sessions[-1].sent)
        if mtu == 23:
            assert len(link.written) > 5, "at MTU 23 the request takes many 20-byte writes"

        result, _ = await unlock_over_ble(radio, peripheral, site.guest, site.door_id, mtu)
        assert result.granted and result.is_guest
        assert len(site.actuator.opened) == 2

        for person in [site.bo_person, *removed]:
            site.remove(person)
        await site.ana.sync()
        [pending] = site.ana.pending_updates()
        assert pending.count == 1 + len(removed)
        result, link = await unlock_over_ble(radio, peripheral, site.ana, site.door_id, mtu)
        assert result.granted and result.updates_carried
        assert (result.seq_before, result.seq_after) == (0, pending.last_seq)
        assert site.ana.receipts()[-1].applied_seq == pending.last_seq
        assert site.store.saved_seq() == pending.last_seq
        longest = max(len(f) for f in link.written)
        assert longest == expected, f"the batch filled whole {expected}-byte writes"
        report = peripheral.progress[-1].report
        assert (report.seq_before, report.seq_after) == (0, pending.last_seq)

        # Bo's phone has not synced since his removal: the door refuses him.
        result, _ = await unlock_over_ble(radio, peripheral, site.bo, site.door_id, mtu)
        assert not result.granted and result.denial is not None
        assert len(site.actuator.opened) == 3, "a denial does not open the lock"
        assert peripheral.door_errors == []

    asyncio.run(scenario())


def test_a_connection_cut_mid_batch_applies_nothing_and_a_retry_delivers(backend, tmp_path):
    site = Site(backend, tmp_path)
    site.remove(site.bo_person)
    asyncio.run(site.ana.sync())
    [pending] = site.ana.pending_updates()

    async def scenario():
        radio = bg.Radio()
        await radio.power_on()
        peripheral = bg.DoorPeripheral(radio.door_device, site.door)
        writes_after_decision = []

        def cut_mid_batch(link):
            # Each write goes out only once the door took the one before, so the cut falls
            # exactly after the door decided and one frame of the batch arrived.
            link.pace = peripheral.wait_for_writes

            def cut_when():
                if peripheral.decided():
                    writes_after_decision.append(len(link.written))
                return len(writes_after_decision) > 1

            link.cut_when = cut_when

        with pytest.raises(keyway.KeywayError.LinkDisconnected) as e:
            await unlock_over_ble(radio, peripheral, site.ana, site.door_id, 23, prepare=cut_mid_batch)
        assert "connection to the door was lost" in str(e.value)
        assert any(isinstance(p, keyway.SessionProgress.DECIDED) for p in peripheral.progress)
        assert not any(isinstance(p, keyway.SessionProgress.FINISHED) for p in peripheral.progress)
        # The door decided (and opened); of the batch it received only a part, and applied none.
        assert len(site.actuator.opened) == 1
        assert site.door.update_seq() == 0 and site.store.saved_seq() == 0
        assert site.ana.receipts() == [] and site.ana.pending_updates() == [pending]

        result, _ = await unlock_over_ble(radio, peripheral, site.ana, site.door_id, 23)
        assert result.granted and result.updates_carried and result.seq_after == pending.last_seq
        assert site.store.saved_seq() == pending.last_seq

    asyncio.run(scenario())


def test_a_door_whose_notifications_never_arrive_times_the_phone_out_cleanly(backend, tmp_path):
    site = Site(backend, tmp_path)

    async def scenario():
        radio = bg.Radio()
        await radio.power_on()
        peripheral = bg.DoorPeripheral(radio.door_device, site.door)
        peripheral.drop_notifications = True
        started = time.monotonic()
        quick = keyway.UnlockOptions(timeout_ms=1000)
        await peripheral.ready()
        link = await bg.connect_phone(radio, 247)
        with pytest.raises(keyway.KeywayError.LinkTimeout) as e:
            await site.ana.unlock(site.door_id, link, quick)
        elapsed = time.monotonic() - started
        assert "did not answer in time" in str(e.value)
        assert elapsed < 4, f"the phone gave up after {elapsed:.1f} s"
        assert link.disconnects == 1 and link.written == []
        assert site.ana.receipts() == [] and site.door.activity() == []

        peripheral.drop_notifications = False
        result, _ = await unlock_over_ble(radio, peripheral, site.ana, site.door_id, 247)
        assert result.granted

    asyncio.run(scenario())


def test_the_advertisement_bumble_scans_is_read_by_the_wallet(backend, tmp_path):
    site = Site(backend, tmp_path)
    site.remove(site.bo_person)
    asyncio.run(site.ana.sync())

    async def scenario():
        radio = bg.Radio()
        await radio.power_on()
        peripheral = bg.DoorPeripheral(radio.door_device, site.door)
        await peripheral.advertise()
        seen = await bg.scan_for_door(radio)
        assert len(seen.data_bytes) <= 31
        uuid, service_data = seen.data.get(bumble.core.AdvertisingData.SERVICE_DATA_128_BIT_UUID)
        assert uuid == bg.SERVICE and bytes(service_data) == bytes(site.door.advertisement())

        for raw in (seen.data_bytes, bytes(service_data)):
            advert = site.ana.parse_advertisement(raw, seen.rssi)
            assert (advert.door_id, advert.door_name, advert.seq_hint) == (site.door_id, "Lobby", 0)
            assert advert.can_open and advert.carries_updates and advert.rssi == seen.rssi
        stranger = keyway.Wallet.open_in_memory(DictStore()).parse_advertisement(seen.data_bytes, None)
        assert stranger.door_id == site.door_id and not stranger.can_open and stranger.door_name is None

        result, _ = await unlock_over_ble(radio, peripheral, site.ana, site.door_id, 185)
        assert result.updates_carried
        await peripheral.ready()
        after = site.ana.parse_advertisement((await bg.scan_for_door(radio)).data_bytes, None)
        assert after.seq_hint == result.seq_after and not after.carries_updates

    asyncio.run(scenario())


def test_a_write_longer_than_an_attribute_value_never_reaches_the_door(backend, tmp_path):
    """Why Keyway's frames are at most 512 bytes even at MTU 517 (`frame_capacity`): a
    conformant GATT server drops a longer write without response."""
    site = Site(backend, tmp_path)

    async def scenario():
        radio = bg.Radio()
        await radio.power_on()
        peripheral = bg.DoorPeripheral(radio.door_device, site.door)
        received = []
        peripheral.request.value = bumble.gatt.CharacteristicValue(write=lambda c, v: received.append(len(v)))
        await peripheral.ready()
        link = await bg.connect_phone(radio, 517)
        assert link.att_mtu == 517 and keyway.frame_capacity(517) == 512
        for size in (514, 513, 512):
            await link.request.write_value(bytes(size), with_response=False)
        await asyncio.sleep(0.1)
        assert received == [512]
        await link.connection.disconnect()

    asyncio.run(scenario())
