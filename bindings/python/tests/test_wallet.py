"""The wallet through the real compiled library: opening with an app's secure store,
keys, doors, sharing payloads, errors, logging and the GATT profile."""

import datetime as dt
import os
import sqlite3

import pytest

import keyway
from support import BuggyStore, DictStore, LockedStore, RecordingSink

UTC = dt.timezone.utc


def now():
    return dt.datetime.now(UTC)


def test_open_creates_device_key_in_the_apps_store_and_reopens_with_it(tmp_path):
    store = DictStore()
    db = str(tmp_path / "wallet.db")
    wallet = keyway.Wallet.open(db, store)
    device = wallet.device_public_key()
    assert len(device) == 64 and int(device, 16) >= 0
    assert list(store.items) == ["device-key"]
    assert len(store.items["device-key"]) == 32
    assert wallet.keys() == []
    assert wallet.doors() == []
    assert wallet.pending_updates() == []
    assert wallet.receipts() == []
    assert os.path.exists(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    del wallet

    again = keyway.Wallet.open(db, store)
    assert again.device_public_key() == device
    assert store.puts == 1, "an existing device key must not be replaced"

    other = keyway.Wallet.open(str(tmp_path / "other.db"), DictStore())
    assert other.device_public_key() != device


def test_secure_store_failures_reach_the_app_as_clear_errors(tmp_path):
    with pytest.raises(keyway.KeywayError.SecureStorage) as e:
        keyway.Wallet.open(str(tmp_path / "w.db"), LockedStore())
    assert "device is locked" in str(e.value)

    # An exception the store did not declare still names the store and the app's bug.
    with pytest.raises(keyway.KeywayError.SecureStorage) as e:
        keyway.Wallet.open_in_memory(BuggyStore())
    assert "app callback failed" in str(e.value) and "keychain wrapper bug" in str(e.value)


def test_damaged_device_key_is_refused():
    store = DictStore()
    store.items["device-key"] = b"short"
    with pytest.raises(keyway.KeywayError.SecureStorage) as e:
        keyway.Wallet.open_in_memory(store)
    assert "wrong length" in str(e.value)


def test_unusable_database_path_is_a_storage_error(tmp_path):
    with pytest.raises(keyway.KeywayError.Storage):
        keyway.Wallet.open(str(tmp_path / "missing-dir" / "w.db"), DictStore())


def test_share_request_names_this_device_and_verifies():
    wallet = keyway.Wallet.open_in_memory(DictStore())
    text = wallet.share_request("Ana's phone")
    assert text.startswith("KWSR1.")
    info = keyway.read_share_request(text)
    assert info.name == "Ana's phone"
    assert info.device_key == wallet.device_public_key()
    assert abs((info.created_at - now()).total_seconds()) < 120

    body = text[len("KWSR1."):]
    flipped = "KWSR1." + body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    with pytest.raises(keyway.KeywayError.InvalidPayload):
        keyway.read_share_request(flipped)
    with pytest.raises(keyway.KeywayError.InvalidPayload):
        keyway.read_share_request("hello")


def test_sharing_arguments_are_checked_before_anything_is_signed():
    wallet = keyway.Wallet.open_in_memory(DictStore())
    request = keyway.Wallet.open_in_memory(DictStore()).share_request("guest")
    start, expiry = now(), now() + dt.timedelta(days=1)
    with pytest.raises(keyway.KeywayError.InvalidInput):
        wallet.share_offline(1, request, [], start, expiry)
    with pytest.raises(keyway.KeywayError.InvalidInput):
        wallet.share_offline(1, request, [7], expiry, start)
    with pytest.raises(keyway.KeywayError.UnknownKey):
        wallet.share_offline(1, request, [7], start, expiry)


def test_bad_guest_offers_are_refused():
    wallet = keyway.Wallet.open_in_memory(DictStore())
    for text in ["", "KWGK1.", "KWGK1.!!!!", "KWSR1.AAAA", "KWGK1." + "A" * 40000]:
        with pytest.raises(keyway.KeywayError.InvalidPayload):
            wallet.accept_guest_key(text)
    assert wallet.keys() == []


def test_gatt_profile_and_frame_sizes():
    p = keyway.gatt_profile()
    uuids = [p.service_uuid, p.request_uuid, p.response_uuid]
    assert len(set(uuids)) == 3
    for u in uuids:
        parts = u.split("-")
        assert [len(x) for x in parts] == [8, 4, 4, 4, 12]
        assert u == u.lower()
    assert keyway.frame_capacity(23) == 20
    assert keyway.frame_capacity(247) == 244
    assert keyway.frame_capacity(0) == 20
    assert keyway.frame_capacity(100000) == 512  # GATT's attribute value bound, not 517 - 3


def test_log_sink_receives_wallet_events_at_its_level():
    sink = RecordingSink()
    keyway.set_log_sink(sink, keyway.LogLevel.INFO)
    try:
        keyway.Wallet.open_in_memory(DictStore())
        opened = [r for r in sink.records if "wallet opened" in r.message]
        assert opened and opened[0].level == keyway.LogLevel.INFO
        assert opened[0].target.startswith("keyway_ffi")

        before = len(sink.records)
        with pytest.raises(keyway.KeywayError.InvalidPayload):
            keyway.Wallet.open_in_memory(DictStore()).accept_guest_key("nope")
        assert not any(r.level == keyway.LogLevel.DEBUG for r in sink.records[before:])

        keyway.set_log_sink(sink, keyway.LogLevel.DEBUG)
        with pytest.raises(keyway.KeywayError.InvalidPayload):
            keyway.Wallet.open_in_memory(DictStore()).accept_guest_key("nope")
        failed = [r for r in sink.records if r.level == keyway.LogLevel.DEBUG and "failed" in r.message]
        assert failed and "not a Keyway share payload" in failed[-1].message
    finally:
        keyway.set_log_sink(None, keyway.LogLevel.ERROR)
    count = len(sink.records)
    keyway.Wallet.open_in_memory(DictStore())
    assert len(sink.records) == count


def test_core_version():
    assert keyway.core_version().count(".") == 2
