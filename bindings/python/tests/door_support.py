"""A door controller written in Python on Keyway's door SDK: its state in a file (written
atomically), an actuator that records every opening, and the link pieces that connect it to a
phone, here a wallet in the same process (`WalletToDoorLink`) or, in test_ble_bumble.py, a
Bumble GATT server."""

import os
import queue
import threading

import keyway


class FileDoorStore(keyway.DoorStore):
    """The door's state in one file: a temporary file, fsync, rename (what a controller on
    a single-board computer does). `fail_saves` makes the next saves fail (a full disk)."""

    def __init__(self, path):
        self.path = str(path)
        self.saves = 0
        self.fail_saves = 0

    def load(self):
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def save(self, state):
        if self.fail_saves:
            self.fail_saves -= 1
            raise keyway.DoorCallbackError.Storage("no space left on device")
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(bytes(state))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.saves += 1

    def saved_seq(self):
        """The update seq of the state on disk, as a restarted door would have it."""
        return keyway.DoorController.restore(self, RecordingActuator()).update_seq()


class RecordingActuator(keyway.DoorActuator):
    """The lock's strike: records each opening (and the door's state saves seen before it)."""

    def __init__(self, store=None):
        self.opened = []
        self.store = store
        self.saves_at_open = []

    def open(self, entry):
        assert entry.granted
        self.opened.append(entry)
        if self.store is not None:
            self.saves_at_open.append(self.store.saves)


def python_door(provisioning_json, tmp_path, name="door"):
    """A door provisioned from Mission Control's answer into a file store."""
    store = FileDoorStore(tmp_path / f"{name}.state")
    actuator = RecordingActuator(store)
    door = keyway.DoorController.provision(provisioning_json, store, actuator)
    return door, store, actuator


_CLOSED = object()


class QueueDoorLink(keyway.DoorLink):
    """The door's notifications, queued for the phone in order; `disconnect` queues the end
    after them."""

    def __init__(self):
        self.frames = queue.Queue()
        self.sent = []
        self.disconnects = 0

    def send_frame(self, frame):
        frame = bytes(frame)
        self.sent.append(frame)
        self.frames.put(frame)

    def disconnect(self):
        self.disconnects += 1
        self.frames.put(_CLOSED)


class WalletToDoorLink(keyway.BleLink):
    """The phone's BLE link to the Python door, with no radio in between: each frame the
    wallet writes is pushed into the door's connection, and the door's notifications queue
    until the wallet reads them. `drop_after_writes` cuts the connection after that many
    writes (the phone walked away); `drop_notifications` makes the door's notifications
    vanish (a door that accepts writes and never answers)."""

    def __init__(self, door, mtu=247, drop_after_writes=None, drop_notifications=False):
        self._mtu = mtu
        self.door_link = QueueDoorLink()
        self.drop_after_writes = drop_after_writes
        self.drop_notifications = drop_notifications
        self.writes = []
        self.progress = []
        self.door_errors = []
        self.closed = threading.Event()
        self.conn = door.connect(self.door_link, mtu)

    def mtu(self):
        return self._mtu

    def send_frame(self, frame):
        frame = bytes(frame)
        assert len(frame) <= self._mtu - 3, "the wallet wrote a frame larger than one ATT packet"
        if self.closed.is_set():
            raise keyway.CallbackError.LinkDisconnected()
        self.writes.append(frame)
        if self.drop_after_writes is not None and len(self.writes) > self.drop_after_writes:
            self._cut()
            raise keyway.CallbackError.LinkDisconnected()
        try:
            self.progress.append(self.conn.frame_received(frame))
        except keyway.DoorError as e:
            self.door_errors.append(e)

    def receive_frame(self, timeout_ms):
        if self.drop_notifications:
            if self.closed.wait(timeout_ms / 1000):
                raise keyway.CallbackError.LinkDisconnected()
            raise keyway.CallbackError.LinkTimeout()
        try:
            frame = self.door_link.frames.get(timeout=timeout_ms / 1000)
        except queue.Empty:
            raise keyway.CallbackError.LinkTimeout() from None
        if frame is _CLOSED:
            raise keyway.CallbackError.LinkDisconnected()
        return frame

    def _cut(self):
        if not self.closed.is_set():
            self.closed.set()
            self.conn.disconnected()

    def disconnect(self):
        self._cut()
