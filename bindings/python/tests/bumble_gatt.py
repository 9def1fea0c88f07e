"""Keyway's GATT profile over a real BLE host stack with a virtual radio: Bumble runs the door's
peripheral (a GATT server in front of the door SDK) and the phone's central (a GATT client
under the wallet's `BleLink`) on one `bumble.link.LocalLink`, in one process and one asyncio
loop. ATT MTU exchange, service discovery, the CCCD write, writes without response and
notifications are Bumble's own, PDU by PDU.

The profile (core/link/src/gatt.rs): one primary service; the phone writes request frames to
the request characteristic (write without response, or with), the door notifies its frames
on the response characteristic; every frame fits one ATT packet.

The wallet calls its `BleLink` from one of Keyway's threads, so `PhoneLink` hands every GATT
operation to the loop (`run_coroutine_threadsafe`) and queues notifications for
`receive_frame`."""

import asyncio
import queue
import threading

from bumble import gatt, hci
from bumble.controller import Controller
from bumble.core import AdvertisingData, UUID
from bumble.device import Device, Peer
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

import keyway

PROFILE = keyway.gatt_profile()
SERVICE = UUID(PROFILE.service_uuid)
REQUEST = UUID(PROFILE.request_uuid)
RESPONSE = UUID(PROFILE.response_uuid)
DOOR_ADDRESS = "F0:F1:F2:F3:F4:F5"
PHONE_ADDRESS = "F1:F2:F3:F4:F5:F6"
# How long one GATT operation of the phone may take on the virtual radio.
GATT_OP_SECS = 5.0


def ble_frame_mtu(att_mtu):
    """The MTU a link reports to Keyway: the negotiated ATT MTU as it is. An attribute value is
    at most 512 bytes (Core spec Vol 3 Part F 3.2.9) and Bumble, like Android 14 and later,
    drops a longer write; Keyway's frames never exceed it (`frame_capacity(517) == 512`)."""
    return att_mtu


def _device(name, address, link):
    controller = Controller(name, link=link, public_address=address)
    return Device(name=name, address=hci.Address(address), host=Host(controller, AsyncPipeSink(controller)))


class Radio:
    """One virtual radio (LocalLink) with a door peripheral and a phone central on it."""

    def __init__(self):
        self.link = LocalLink()
        self.door_device = _device("Keyway door", DOOR_ADDRESS, self.link)
        self.phone_device = _device("Phone", PHONE_ADDRESS, self.link)

    async def power_on(self):
        await self.door_device.power_on()
        await self.phone_device.power_on()


class BumbleDoorLink(keyway.DoorLink):
    """The door SDK's link on one Bumble connection: frames are notified in order by one
    writer task; `disconnect` after a failed session drops the connection once the frames
    before it are out."""

    def __init__(self, peripheral, connection):
        self.peripheral = peripheral
        self.connection = connection
        self.frames = asyncio.Queue()
        self.sent = []
        self.finished = False
        self.gone = False
        self.writer = asyncio.ensure_future(self._write())

    def send_frame(self, frame):
        self.frames.put_nowait(bytes(frame))

    def disconnect(self):
        self.frames.put_nowait(None)

    async def _write(self):
        while True:
            frame = await self.frames.get()
            if frame is None:
                if not self.finished and not self.gone:
                    # The session failed: the door hangs up (a finished one leaves it to the phone).
                    try:
                        await asyncio.wait_for(self.connection.disconnect(), GATT_OP_SECS)
                    except Exception:  # the phone left first
                        pass
                return
            if self.peripheral.drop_notifications:
                continue
            self.sent.append(frame)
            await self.peripheral.device.notify_subscriber(self.connection, self.peripheral.response, frame)


class DoorPeripheral:
    """The door's GATT server: the Keyway service in front of a `keyway.DoorController`. A
    session starts when the phone subscribes to the response characteristic, at the MTU the
    connection negotiated."""

    def __init__(self, device, door):
        self.device = device
        self.door = door
        self.drop_notifications = False
        self.sessions = []
        self.progress = []
        self.door_errors = []
        self._active = {}
        self.writes = 0
        self._wrote = threading.Condition()
        self.connections = set()
        self.idle = asyncio.Event()
        self.idle.set()
        self.request = gatt.Characteristic(
            REQUEST,
            gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE | gatt.Characteristic.Properties.WRITE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_write),
        )
        self.response = gatt.Characteristic(
            RESPONSE, gatt.Characteristic.Properties.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        self.response.on(self.response.EVENT_SUBSCRIPTION, self._on_subscription)
        device.add_service(gatt.Service(SERVICE, [self.request, self.response]))
        device.on(device.EVENT_CONNECTION, self._on_connection)

    def advertising_data(self):
        """Flags, then the Keyway service data as the SDK builds it now (its update seq changes
        after a session): 3 + 27 of the 31 bytes. A real door may carry the service data in its
        scan response instead; Bumble's virtual controller answers a scan request with the
        advertising data itself, so here it goes in the advertising data."""
        flags = AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED
        return bytes(AdvertisingData([(AdvertisingData.FLAGS, bytes([flags]))])) + bytes(self.door.scan_response())

    async def advertise(self):
        """(Re)starts connectable advertising with the door's current advertising data."""
        if self.device.is_advertising:
            await self.device.stop_advertising()
        await self.device.start_advertising(
            advertising_data=self.advertising_data(), advertising_interval_min=20, advertising_interval_max=20
        )

    async def ready(self):
        """Waits until the last phone is gone, then advertises again (a peripheral stops
        advertising when a central connects)."""
        await asyncio.wait_for(self.idle.wait(), GATT_OP_SECS)
        await self.advertise()

    def _on_connection(self, connection):
        self.connections.add(connection)
        self.idle.clear()
        connection.on(connection.EVENT_DISCONNECTION, lambda reason: self._on_disconnection(connection))

    def _on_subscription(self, connection, notify_enabled, indicate_enabled):
        if not notify_enabled or connection in self._active:
            return
        link = BumbleDoorLink(self, connection)
        conn = self.door.connect(link, ble_frame_mtu(connection.att_mtu))
        self._active[connection] = (conn, link)
        self.sessions.append(link)

    def decided(self):
        return any(isinstance(p, keyway.SessionProgress.DECIDED) for p in self.progress)

    def wait_for_writes(self, n, timeout=GATT_OP_SECS):
        """Waits (from another thread than the loop's) until the door took `n` writes."""
        with self._wrote:
            self._wrote.wait_for(lambda: self.writes >= n, timeout)

    def _on_write(self, connection, value):
        try:
            self._take(connection, bytes(value))
        finally:
            with self._wrote:
                self.writes += 1
                self._wrote.notify_all()

    def _take(self, connection, value):
        active = self._active.get(connection)
        if active is None:
            return
        conn, link = active
        try:
            progress = conn.frame_received(value)
        except keyway.DoorError as e:
            self.door_errors.append(e)
            return
        self.progress.append(progress)
        if isinstance(progress, keyway.SessionProgress.FINISHED):
            link.finished = True

    def _on_disconnection(self, connection):
        self.connections.discard(connection)
        if not self.connections:
            self.idle.set()
        active = self._active.pop(connection, None)
        if active is not None:
            conn, link = active
            link.gone = True
            conn.disconnected()
            link.frames.put_nowait(None)


class PhoneLink(keyway.BleLink):
    """The wallet's `BleLink` on a Bumble GATT client connection."""

    def __init__(self, loop, connection, request, att_mtu):
        self.loop = loop
        self.connection = connection
        self.request = request
        self.att_mtu = att_mtu
        self.notifications = queue.Queue()
        self.gone = threading.Event()
        self.written = []
        # Test hooks: `pace(n)` waits until the door took the first n writes; `cut_when()`
        # true before a write cuts the connection instead (the phone walks out of range).
        self.pace = None
        self.cut_when = None
        self.disconnects = 0
        connection.on(connection.EVENT_DISCONNECTION, lambda reason: self._gone())

    def _gone(self):
        self.gone.set()
        self.notifications.put(None)

    def on_notification(self, value):
        self.notifications.put(bytes(value))

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(GATT_OP_SECS)

    def mtu(self):
        return ble_frame_mtu(self.att_mtu)

    def send_frame(self, frame):
        frame = bytes(frame)
        assert len(frame) <= self.mtu() - 3, "the wallet wrote a frame larger than one ATT packet"
        if self.gone.is_set():
            raise keyway.CallbackError.LinkDisconnected()
        if self.pace is not None:
            self.pace(len(self.written))
        if self.cut_when is not None and self.cut_when():
            self._run(self.connection.disconnect())
            raise keyway.CallbackError.LinkDisconnected()
        try:
            self._run(self.request.write_value(frame, with_response=False))
        except Exception as e:  # the stack's own failure, as an app's BLE callback reports it
            if self.gone.is_set():
                raise keyway.CallbackError.LinkDisconnected() from None
            raise keyway.CallbackError.Link(f"write failed: {e!r}") from None
        self.written.append(frame)

    def receive_frame(self, timeout_ms):
        try:
            frame = self.notifications.get(timeout=timeout_ms / 1000)
        except queue.Empty:
            raise keyway.CallbackError.LinkTimeout() from None
        if frame is None:
            raise keyway.CallbackError.LinkDisconnected()
        return frame

    def disconnect(self):
        self.disconnects += 1
        if not self.gone.is_set():
            asyncio.run_coroutine_threadsafe(self._disconnect(), self.loop)

    async def _disconnect(self):
        try:
            await self.connection.disconnect()
        except Exception:  # already gone
            pass


async def connect_phone(radio, mtu):
    """The phone connects to the door, exchanges the MTU (none at 23, the default), discovers
    the Keyway service and subscribes to the door's responses: the door's challenge follows."""
    loop = asyncio.get_running_loop()
    connection = await radio.phone_device.connect(hci.Address(DOOR_ADDRESS))
    peer = Peer(connection)
    if mtu != 23:
        await peer.request_mtu(mtu)
    [service] = await peer.discover_service(SERVICE)
    await service.discover_characteristics()
    [request] = [c for c in service.characteristics if c.uuid == REQUEST]
    [response] = [c for c in service.characteristics if c.uuid == RESPONSE]
    link = PhoneLink(loop, connection, request, connection.att_mtu)
    await response.subscribe(link.on_notification)
    return link


async def scan_for_door(radio, timeout=5.0):
    """The phone scans until it hears the door; returns Bumble's `Advertisement`."""
    found = asyncio.get_running_loop().create_future()

    def on_advertisement(advertisement):
        if advertisement.address == hci.Address(DOOR_ADDRESS) and not found.done():
            found.set_result(advertisement)

    radio.phone_device.on(radio.phone_device.EVENT_ADVERTISEMENT, on_advertisement)
    await radio.phone_device.start_scanning(active=False)
    try:
        return await asyncio.wait_for(found, timeout)
    finally:
        radio.phone_device.remove_listener(radio.phone_device.EVENT_ADVERTISEMENT, on_advertisement)
        await radio.phone_device.stop_scanning()
