"""Every error reaches the app with its human message as `str()`, and the Swift extension
that makes it `localizedDescription` names every case of the generated enum."""

import asyncio
import datetime as dt
import os
import re

import pytest

import keyway
import keyway_test_support
from support import DictStore, SilentDoorLink, SimulatedDoorLink

UTC = dt.timezone.utc
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
# The generated Swift bindings, as the Swift package scripts/package lays out holds them.
SWIFT_PACKAGE = os.environ.get("KEYWAY_PACKAGES", os.path.join(ROOT, "..", "target", "packages"))
GENERATED_SWIFT = os.path.join(SWIFT_PACKAGE, "swift", "KeywayCore", "Sources", "KeywayCore", "KeywayCore.swift")


def test_errors_carry_their_human_message():
    prop = keyway_test_support.SimulatedProperty()
    lobby = prop.add_door(7, "Lobby")
    garage = prop.add_door(8, "Garage")
    wallet = keyway.Wallet.open_in_memory(DictStore())
    start = dt.datetime.now(UTC) + dt.timedelta(hours=2)
    wallet.accept_guest_key(prop.issue_guest_offer(wallet.device_public_key(), [7], start, start + dt.timedelta(days=1)))

    with pytest.raises(keyway.KeywayError.NoKeyForDoor) as e:
        asyncio.run(wallet.unlock(7, SimulatedDoorLink(lobby)))
    assert str(e.value) == "no active key opens door 7"
    with pytest.raises(keyway.KeywayError.UnknownDoor) as e:
        asyncio.run(wallet.unlock(8, SimulatedDoorLink(garage)))
    assert str(e.value) == "door 8 is unknown to this wallet (sync first)"
    with pytest.raises(keyway.KeywayError.NotEnrolled) as e:
        asyncio.run(wallet.sync())
    assert str(e.value) == "this wallet has not accepted an invite yet"
    with pytest.raises(keyway.KeywayError.InvalidPayload) as e:
        wallet.accept_guest_key("KWGK1.!!!!")
    assert str(e.value).startswith("invalid payload: ")
    with pytest.raises(keyway.KeywayError.UnknownKey) as e:
        wallet.share_offline(99, wallet.share_request("x"), [7], start, start + dt.timedelta(days=1))
    assert str(e.value) == "no key with id k99"


def test_a_silent_door_times_out_with_a_message():
    prop = keyway_test_support.SimulatedProperty()
    prop.add_door(7, "Lobby")
    wallet = keyway.Wallet.open_in_memory(DictStore())
    now = dt.datetime.now(UTC)
    wallet.accept_guest_key(prop.issue_guest_offer(wallet.device_public_key(), [7], now - dt.timedelta(minutes=1), now + dt.timedelta(days=1)))
    with pytest.raises(keyway.KeywayError.LinkTimeout) as e:
        asyncio.run(wallet.unlock(7, SilentDoorLink(), keyway.UnlockOptions(timeout_ms=100)))
    assert str(e.value) == "the door did not answer in time"


def test_swift_localized_description_covers_every_error_case():
    generated = open(GENERATED_SWIFT).read()
    body = generated[generated.index("enum KeywayError"):]
    body = body[: body.index("\n}\n")]
    cases = set(re.findall(r"^\s+case (\w+)\(message: String\)", body, re.M))
    assert "NoKeyForDoor" in cases
    extension = open(os.path.join(ROOT, "swift", "KeywayError+LocalizedError.swift")).read()
    listed = set(re.findall(r"case \.(\w+)\(let message\): return message", extension))
    assert listed == cases


def test_swift_async_stream_extension_calls_what_the_bindings_generate():
    generated = open(GENERATED_SWIFT).read()
    extension = open(os.path.join(ROOT, "swift", "Keyway+AsyncStream.swift")).read()
    for signature in [
        "func subscribeKeys(listener: KeyListener)throws  -> Subscription",
        "func subscribeUnlockEvents(listener: UnlockListener) -> Subscription",
        "func onUpdate(update: KeyUpdate)",
        "func onEvent(event: UnlockEvent)",
        "func cancel()",
        "public protocol KeyListener: AnyObject, Sendable",
        "public protocol UnlockListener: AnyObject, Sendable",
    ]:
        assert signature in generated, signature
    for call in [
        "try subscribeKeys(listener: KeyStreamListener(continuation))",
        "subscribeUnlockEvents(listener: UnlockStreamListener(continuation))",
        "func onUpdate(update: KeyUpdate) { continuation.yield(update) }",
        "func onEvent(event: UnlockEvent) { continuation.yield(event) }",
        "subscription.cancel()",
        "extension Wallet {",
    ]:
        assert call in extension, call
    # The reference CoreBluetooth link drives the generated PushLink.
    reference = open(os.path.join(ROOT, "swift", "CoreBluetoothLink.swift")).read()
    assert "NOT COMPILED HERE" in reference
    for call in ["link.connected(mtu:", "link.notification(frame:", "link.nextWrite()", "wallet.unlockPush(doorId:"]:
        assert call in reference, call
    for signature in ["func connected(mtu: UInt32)", "func notification(frame: Data)", "func nextWrite()async  -> Data?",
                      "func unlockPush(doorId: UInt32, link: PushLink, options: UnlockOptions? = nil)async throws  -> UnlockReport"]:
        assert signature in generated, signature
