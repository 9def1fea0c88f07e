"""Never blocked, cancellable: an unlock does not wait for the network, reads do not wait for
a door, a cancelled unlock ends at once, one unlock runs at a time, and per-call options
bound unlocks and backend calls. Time bounds are generous (a loaded CI machine passes them);
the code before this change misses each by seconds."""

import asyncio
import concurrent.futures
import datetime as dt
import statistics
import time

import pytest

import keyway
import keyway_test_support
from support import BlackHole, DictStore, SilentDoorLink, SimulatedDoorLink, enrolled_store

UTC = dt.timezone.utc


def guest_wallet(store=None):
    prop = keyway_test_support.SimulatedProperty()
    lobby = prop.add_door(7, "Lobby")
    wallet = keyway.Wallet.open_in_memory(store or DictStore())
    now = dt.datetime.now(UTC)
    offer = prop.issue_guest_offer(wallet.device_public_key(), [7], now - dt.timedelta(minutes=1), now + dt.timedelta(days=1))
    wallet.accept_guest_key(offer)
    return wallet, lobby


def timed(call):
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


async def until(event):
    while not event.is_set():
        await asyncio.sleep(0.005)


@pytest.fixture
def black_hole():
    hole = BlackHole()
    yield hole
    hole.close()


def test_unlock_completes_while_a_sync_waits_on_a_black_holed_backend(black_hole):
    wallet, lobby = guest_wallet(enrolled_store(black_hole.url))
    assert wallet.is_enrolled()

    async def scenario():
        sync = asyncio.ensure_future(wallet.sync())
        await until(black_hole.accepted)
        started = time.monotonic()
        result = await asyncio.wait_for(wallet.unlock(7, SimulatedDoorLink(lobby)), timeout=10)
        elapsed = time.monotonic() - started
        assert not sync.done(), "the sync is still waiting for the backend"
        sync.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sync
        return result, elapsed

    result, elapsed = asyncio.run(scenario())
    assert result.granted
    assert elapsed < 2, f"unlock took {elapsed:.3f} s behind a stuck sync"
    assert len(wallet.receipts()) == 1


def test_reads_answer_within_50ms_while_an_unlock_waits_on_a_silent_door():
    wallet, _ = guest_wallet()
    silent = SilentDoorLink()

    async def scenario():
        unlock = asyncio.ensure_future(wallet.unlock(7, silent))
        await until(silent.receiving)
        on_loop = [timed(wallet.keys) for _ in range(5)]
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            other_thread = [pool.submit(timed, wallet.doors).result() for _ in range(5)]
        assert not unlock.done(), "the unlock is still waiting for the door"
        silent.disconnect()
        with pytest.raises(keyway.KeywayError.LinkDisconnected):
            await unlock
        return on_loop, other_thread

    on_loop, other_thread = asyncio.run(scenario())
    assert statistics.median(on_loop) < 0.05, f"keys() took {on_loop}"
    assert statistics.median(other_thread) < 0.05, f"doors() from another thread took {other_thread}"


def test_cancelled_unlock_disconnects_the_link_and_frees_the_wallet_at_once():
    wallet, lobby = guest_wallet()
    silent = SilentDoorLink()

    async def scenario():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(wallet.unlock(7, silent), timeout=0.3)
        cancelled_at = time.monotonic()
        assert silent.closed == 1, "cancelling the unlock disconnects the link"
        assert silent.closed_at <= cancelled_at + 0.1
        assert timed(wallet.keys) < 0.1, "the next read does not wait"
        # The unlock slot is free: the next unlock runs at once.
        return await asyncio.wait_for(wallet.unlock(7, SimulatedDoorLink(lobby)), timeout=2)

    assert asyncio.run(scenario()).granted
    assert len(wallet.receipts()) == 1, "the cancelled exchange stored nothing"
    assert silent.closed == 1, "disconnected once in all"


def test_a_second_unlock_while_one_is_at_a_door_is_refused_at_once():
    wallet, lobby = guest_wallet()
    silent = SilentDoorLink()

    async def scenario():
        first = asyncio.ensure_future(wallet.unlock(7, silent))
        await until(silent.receiving)
        second = SimulatedDoorLink(lobby)
        started = time.monotonic()
        with pytest.raises(keyway.KeywayError.UnlockInProgress) as e:
            await wallet.unlock(7, second)
        assert str(e.value) == "another unlock is in progress: wait for it to finish or cancel it"
        assert time.monotonic() - started < 1
        assert second.sent == [], "the refused unlock wrote nothing to its door"
        silent.disconnect()
        with pytest.raises(keyway.KeywayError.LinkDisconnected):
            await first

    asyncio.run(scenario())


def test_unlock_timeout_is_a_per_call_option():
    assert keyway.UnlockOptions().timeout_ms == 10000
    wallet, _ = guest_wallet()
    silent = SilentDoorLink()
    started = time.monotonic()
    with pytest.raises(keyway.KeywayError.LinkTimeout):
        asyncio.run(wallet.unlock(7, silent, keyway.UnlockOptions(timeout_ms=200)))
    assert time.monotonic() - started < 2
    assert silent.timeouts and max(silent.timeouts) <= 200
    with pytest.raises(keyway.KeywayError.InvalidInput):
        asyncio.run(wallet.unlock(7, SilentDoorLink(), keyway.UnlockOptions(timeout_ms=0)))


def test_network_timeout_and_attempts_are_per_call_options(black_hole):
    defaults = keyway.NetworkOptions()
    assert (defaults.timeout_ms, defaults.attempts) == (15000, 5)
    wallet, _ = guest_wallet(enrolled_store(black_hole.url))
    started = time.monotonic()
    with pytest.raises(keyway.KeywayError.Network) as e:
        asyncio.run(wallet.sync(keyway.NetworkOptions(timeout_ms=200, attempts=2)))
    assert time.monotonic() - started < 3
    assert "after 2 attempts" in str(e.value)
    with pytest.raises(keyway.KeywayError.InvalidInput):
        asyncio.run(wallet.upload(keyway.NetworkOptions(timeout_ms=200, attempts=0)))


async def drive_push_link(link, door, mtu=247):
    """An app's callback-driven BLE stack, with a simulated door as the peripheral: connected
    (the challenge arrives as notifications), then each frame pulled is written and answered."""
    link.connected(mtu)
    for frame in door.connect(mtu):
        link.notification(frame)
    while True:
        frame = await link.next_write()
        if frame is None:
            return
        for answer in door.write(frame):
            link.notification(answer)


def test_an_unlock_over_a_push_link_is_granted_with_its_progress():
    wallet, lobby = guest_wallet()
    events = []

    class Listener(keyway.UnlockListener):
        def on_event(self, event):
            events.append(type(event).__name__.split(".")[-1])

    subscription = wallet.subscribe_unlock_events(Listener())
    link = keyway.PushLink()

    async def scenario():
        report, _ = await asyncio.wait_for(asyncio.gather(wallet.unlock_push(7, link), drive_push_link(link, lobby)), 5)
        return report

    assert asyncio.run(scenario()).granted
    assert link.is_finished()
    assert events == ["CONNECTING", "DOOR_VERIFIED", "REQUEST_SENT", "GRANTED", "RECEIPT_STORED"]
    assert len(wallet.receipts()) == 1
    # One link per connection.
    with pytest.raises(keyway.KeywayError.Link):
        asyncio.run(wallet.unlock_push(7, link))


def test_a_cancelled_push_unlock_ends_the_link_and_frees_the_wallet_at_once():
    wallet, lobby = guest_wallet()
    events = []

    class Listener(keyway.UnlockListener):
        def on_event(self, event):
            events.append(type(event).__name__.split(".")[-1])

    subscription = wallet.subscribe_unlock_events(Listener())
    silent = keyway.PushLink()
    silent.connected(247)

    async def scenario():
        writer = asyncio.ensure_future(silent.next_write())
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(wallet.unlock_push(7, silent), timeout=0.3)
        cancelled_at = time.monotonic()
        # The app's writer learns at once that the exchange is over: it disconnects.
        assert await asyncio.wait_for(writer, 0.1) is None
        assert time.monotonic() - cancelled_at < 0.1
        assert silent.is_finished()
        assert timed(wallet.keys) < 0.1
        fresh = keyway.PushLink()
        report, _ = await asyncio.wait_for(asyncio.gather(wallet.unlock_push(7, fresh), drive_push_link(fresh, lobby)), 2)
        return report

    assert asyncio.run(scenario()).granted
    assert events[:2] == ["CONNECTING", "CANCELLED"]
    assert len(wallet.receipts()) == 1, "the cancelled exchange stored nothing"


def test_a_push_link_that_disconnects_or_stays_silent_fails_as_a_blocking_link_does():
    wallet, _ = guest_wallet()
    link = keyway.PushLink()
    link.connected(247)

    async def drop_soon():
        await asyncio.sleep(0.05)
        link.disconnected()

    async def scenario():
        with pytest.raises(keyway.KeywayError.LinkDisconnected):
            await asyncio.gather(wallet.unlock_push(7, link), drop_soon())

    asyncio.run(scenario())
    silent = keyway.PushLink()
    started = time.monotonic()
    with pytest.raises(keyway.KeywayError.LinkTimeout):
        asyncio.run(wallet.unlock_push(7, silent, keyway.UnlockOptions(timeout_ms=200)))
    assert time.monotonic() - started < 2
    with pytest.raises(keyway.KeywayError.Link):
        keyway.PushLink().notification(bytes(600))
