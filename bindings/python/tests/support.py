"""Foreign implementations the tests hand to Keyway: a secure store and BLE links."""

import collections
import socket
import threading
import time

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
        raise keyway.CallbackError.SecureStorage("device is locked")

    def put(self, name, secret):
        raise keyway.CallbackError.SecureStorage("device is locked")

    def delete(self, name):
        raise keyway.CallbackError.SecureStorage("device is locked")


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
            raise keyway.CallbackError.LinkDisconnected()
        self.notifications.extend(self.door.write(frame))

    def receive_frame(self, timeout_ms):
        self.timeouts.append(timeout_ms)
        if not self.notifications:
            if self.drop_after_sends is not None:
                raise keyway.CallbackError.LinkDisconnected()
            raise keyway.CallbackError.LinkTimeout()
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


class SilentDoorLink(keyway.BleLink):
    """A door that accepted the connection and then says nothing: `receive_frame` waits out
    its timeout, as a real link does, unless the app disconnects it."""

    def __init__(self, mtu=247):
        self._mtu = mtu
        self.receiving = threading.Event()
        self.disconnected = threading.Event()
        self.closed = 0
        self.closed_at = None
        self.timeouts = []

    def mtu(self):
        return self._mtu

    def send_frame(self, frame):
        pass

    def receive_frame(self, timeout_ms):
        self.timeouts.append(timeout_ms)
        self.receiving.set()
        if self.disconnected.wait(timeout_ms / 1000):
            raise keyway.CallbackError.LinkDisconnected()
        raise keyway.CallbackError.LinkTimeout()

    def disconnect(self):
        self.closed += 1
        self.closed_at = time.monotonic()
        self.disconnected.set()


class BlackHole:
    """A backend that accepts connections and never answers (a captive portal, a dead load
    balancer): every request waits for its timeout."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def enrolled_store(backend_url):
    """A secure store as a reinstall leaves it: enrolled at `backend_url`, database gone."""
    store = DictStore()
    store.items["device-token"] = b"token-of-a-previous-install"
    store.items["backend-url"] = backend_url.encode()
    return store
