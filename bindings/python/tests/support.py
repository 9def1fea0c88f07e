"""Foreign implementations the tests hand to Keyway: a secure store and BLE links."""

import collections

import keyway


class DictStore(keyway.SecureStore):
    """Secrets in a dict, standing in for the Keychain or Keystore."""

    def __init__(self):
        self.items = {}
        self.puts = 0

    def get(self, name):
        return self.items.get(name)

    def put(self, name, secret):
        self.puts += 1
        self.items[name] = bytes(secret)

    def delete(self, name):
        self.items.pop(name, None)


class LockedStore(keyway.SecureStore):
    """A store whose device is locked: declares the failure as Keyway asks."""

    def get(self, name):
        raise keyway.KeywayError.SecureStorage("device is locked")

    def put(self, name, secret):
        raise keyway.KeywayError.SecureStorage("device is locked")

    def delete(self, name):
        raise keyway.KeywayError.SecureStorage("device is locked")


class BuggyStore(DictStore):
    """A store with a bug: raises an exception Keyway did not declare."""

    def get(self, name):
        raise ValueError("keychain wrapper bug")


class SimulatedDoorLink(keyway.BleLink):
    """A BLE link as an app writes one, with a simulated door in place of the GATT
    peripheral: connecting subscribes and receives the door's challenge; each written frame
    may trigger notifications; received notifications queue until Keyway reads them."""

    def __init__(self, door, mtu=247, tamper=None, drop_after_sends=None):
        self.door = door
        self._mtu = mtu
        self.tamper = tamper
        self.drop_after_sends = drop_after_sends
        self.notifications = collections.deque(door.connect(mtu))
        self.sent = []
        self.closed = 0
        self.timeouts = []

    def mtu(self):
        return self._mtu

    def send_frame(self, frame):
        frame = bytes(frame)
        assert len(frame) <= self._mtu - 3, "Keyway wrote a frame larger than one ATT packet"
        self.sent.append(frame)
        if self.drop_after_sends is not None and len(self.sent) > self.drop_after_sends:
            raise keyway.KeywayError.LinkDisconnected()
        self.notifications.extend(self.door.write(frame))

    def receive_frame(self, timeout_ms):
        self.timeouts.append(timeout_ms)
        if not self.notifications:
            if self.drop_after_sends is not None:
                raise keyway.KeywayError.LinkDisconnected()
            raise keyway.KeywayError.LinkTimeout()
        frame = self.notifications.popleft()
        if self.tamper is not None:
            frame = self.tamper(frame)
        return frame

    def disconnect(self):
        self.closed += 1


class RecordingSink(keyway.LogSink):
    def __init__(self):
        self.records = []

    def log(self, record):
        self.records.append(record)
