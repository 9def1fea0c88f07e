package io.keyway.tests

import io.keyway.core.KeywayException
import io.keyway.core.NetworkOptions
import io.keyway.testsupport.SimulatedDoor
import io.keyway.testsupport.SimulatedProperty
import io.keyway.core.UnlockOptions
import io.keyway.core.Wallet
import java.time.Duration
import java.time.Instant
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull

// Never blocked, cancellable: an unlock does not wait for the network, reads do not wait for
// a door, cancelling the coroutine ends the exchange at once, one unlock at a time, and
// per-call options. Bounds are generous; the old single-lock wallet missed each by seconds.

private fun guestWallet(store: MapStore = MapStore()): Pair<Wallet, SimulatedDoor> {
    val property = SimulatedProperty()
    val lobby = property.addDoor(7u, "Lobby")
    val wallet = Wallet.openInMemory(store)
    val offer = property.issueGuestOffer(
        wallet.devicePublicKey(), listOf(7u), Instant.now().minusSeconds(60), Instant.now().plus(Duration.ofDays(1)),
    )
    wallet.acceptGuestKey(offer)
    return wallet to lobby
}

private fun millis(block: () -> Unit): Long {
    val started = System.nanoTime()
    block()
    return (System.nanoTime() - started) / 1_000_000
}

fun concurrencyTests(suite: Suite) {
    suite.test("an unlock completes while a sync waits on a black-holed backend") {
        BlackHole().use { hole ->
            val (wallet, lobby) = guestWallet(enrolledStore(hole.url))
            check(wallet.isEnrolled()) { "the kept secure store enrolls the wallet" }
            runBlocking {
                val sync = async(Dispatchers.Default) { runCatching { wallet.sync() } }
                check(hole.accepted.await(5, TimeUnit.SECONDS)) { "the sync never reached the backend" }
                var granted = false
                val took = millis {
                    val result = runBlocking { withTimeoutOrNull(10_000) { wallet.unlock(7u, SimulatedDoorLink(lobby)) } }
                    granted = result?.granted == true
                }
                check(granted) { "unlock did not complete" }
                check(took < 2_000) { "unlock took $took ms behind a stuck sync" }
                check(!sync.isCompleted) { "the sync is still waiting for the backend" }
                sync.cancel()
            }
            wallet.close()
        }
    }

    suite.test("keys() and doors() answer within 50 ms while an unlock waits on a silent door") {
        val (wallet, _) = guestWallet()
        val silent = SilentDoorLink()
        runBlocking {
            val unlock = async(Dispatchers.Default) { runCatching { wallet.unlock(7u, silent) } }
            check(silent.receiving.await(5, TimeUnit.SECONDS)) { "the unlock never reached the door" }
            val here = (1..5).map { millis { wallet.keys() } }.sorted()
            val other = java.util.concurrent.CopyOnWriteArrayList<Long>()
            Thread { repeat(5) { other += millis { wallet.doors() } } }.apply { start(); join() }
            check(here[2] < 50) { "keys() took $here ms" }
            check(other.sorted()[2] < 50) { "doors() from another thread took $other ms" }
            check(!unlock.isCompleted) { "the unlock is still at the door" }
            silent.disconnect()
            val failure = unlock.await().exceptionOrNull()
            check(failure is KeywayException.LinkDisconnected) { "unlock ended with $failure" }
        }
        wallet.close()
    }

    suite.test("withTimeoutOrNull cancels the unlock, disconnects the link and frees the wallet") {
        val (wallet, lobby) = guestWallet()
        val silent = SilentDoorLink()
        runBlocking {
            val started = System.nanoTime()
            val result = withTimeoutOrNull(300) { wallet.unlock(7u, silent) }
            val took = (System.nanoTime() - started) / 1_000_000
            check(result == null) { "the silent door answered: $result" }
            // Cancellation completes (and so disconnects) before withTimeoutOrNull returns.
            check(silent.closed.get() == 1) { "the link was not disconnected by the cancel" }
            check(took < 400) { "the cancelled unlock returned after $took ms" }
            val read = millis { wallet.keys() }
            check(read < 100) { "the next keys() waited $read ms" }
            val next = withTimeoutOrNull(2_000) { wallet.unlock(7u, SimulatedDoorLink(lobby)) }
            check(next?.granted == true) { "the next unlock: $next" }
        }
        checkEquals(1, wallet.receipts().size, "receipts (none from the cancelled exchange)")
        checkEquals(1, silent.closed.get(), "disconnects of the cancelled link")
        wallet.close()
    }

    suite.test("a second unlock while one is at a door is refused at once") {
        val (wallet, lobby) = guestWallet()
        val silent = SilentDoorLink()
        runBlocking {
            val first = async(Dispatchers.Default) { runCatching { wallet.unlock(7u, silent) } }
            check(silent.receiving.await(5, TimeUnit.SECONDS)) { "the unlock never reached the door" }
            val second = SimulatedDoorLink(lobby)
            expectThrows<KeywayException.UnlockInProgress>("second unlock") { runBlocking { wallet.unlock(7u, second) } }
            check(second.sent.isEmpty()) { "the refused unlock wrote to its door" }
            silent.disconnect()
            first.await()
        }
        wallet.close()
    }

    suite.test("unlock and network timeouts are per-call options") {
        checkEquals(10_000u, UnlockOptions().timeoutMs, "default unlock timeout")
        checkEquals(NetworkOptions(15_000u, 5u), NetworkOptions(), "default network options")
        val (wallet, _) = guestWallet()
        val silent = SilentDoorLink()
        val took = millis {
            expectThrows<KeywayException.LinkTimeout>("short unlock timeout") {
                runBlocking { wallet.unlock(7u, silent, UnlockOptions(200u)) }
            }
        }
        check(took < 2_000) { "a 200 ms unlock took $took ms" }
        check(silent.timeouts.all { it <= 200u }) { "receive timeouts: ${silent.timeouts}" }
        wallet.close()
        BlackHole().use { hole ->
            Wallet.openInMemory(enrolledStore(hole.url)).use { enrolled ->
                val syncTook = millis {
                    expectThrows<KeywayException.Network>("sync against a black hole") {
                        runBlocking { enrolled.sync(NetworkOptions(200u, 2u)) }
                    }
                }
                check(syncTook < 3_000) { "two 200 ms attempts took $syncTook ms" }
            }
        }
    }
}
