package io.keyway.tests

import io.keyway.core.DenialReason
import io.keyway.core.ErrorKind
import io.keyway.core.KeyChange
import io.keyway.core.KeyState
import io.keyway.core.KeywayException
import io.keyway.core.Proximity
import io.keyway.core.PushLink
import io.keyway.testsupport.SimulatedDoor
import io.keyway.testsupport.SimulatedProperty
import io.keyway.core.UnlockEvent
import io.keyway.core.Wallet
import io.keyway.core.doorAdvertisement
import io.keyway.core.keyUpdates
import io.keyway.core.unlockEvents
import java.io.File
import java.time.Duration
import java.time.Instant
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import kotlinx.coroutines.yield

// Streams (Flow over the listener subscriptions), discovery (parseAdvertisement, WrongDoor)
// and the push link for callback BLE stacks.

private fun guest(property: SimulatedProperty, doors: List<UInt>): Wallet {
    val wallet = Wallet.openInMemory(MapStore())
    val offer = property.issueGuestOffer(
        wallet.devicePublicKey(), doors, Instant.now().minusSeconds(60), Instant.now().plus(Duration.ofDays(1)),
    )
    wallet.acceptGuestKey(offer)
    return wallet
}

private fun name(e: UnlockEvent): String = e::class.simpleName ?: "?"

/** An app's BluetoothGatt callbacks, with a simulated door as the peripheral. */
private suspend fun drive(link: PushLink, door: SimulatedDoor, mtu: UInt = 247u) {
    link.connected(mtu)
    door.connect(mtu).forEach { link.notification(it) }
    while (true) {
        val frame = link.nextWrite() ?: return
        door.write(frame).forEach { link.notification(it) }
    }
}

private fun enrolled(backend: MissionControl, name: String, doors: List<UInt>): Wallet {
    val wallet = Wallet.openInMemory(MapStore())
    runBlocking { wallet.acceptInvite(backend.baseUrl, backend.invite(name, doors)) }
    return wallet
}

fun streamTests(suite: Suite, tmp: File) {
    suite.test("parseAdvertisement names the door, what this wallet can do there and how near it is") {
        val property = SimulatedProperty()
        val lobby = property.addDoor(7u, "Lobby")
        property.addDoor(8u, "Garage")
        val wallet = guest(property, listOf(7u))
        val seen = wallet.parseAdvertisement(lobby.advertisement(), -55)
        check(seen.doorId == 7u && seen.canOpen && !seen.carriesUpdates && seen.proximity == Proximity.NEAR) { "$seen" }
        checkEquals(seen, wallet.parseAdvertisement(lobby.scanResponse(), -55), "scan response form")
        checkEquals(Proximity.FAR, wallet.parseAdvertisement(lobby.advertisement(), -90).proximity, "far")
        wallet.setNearRssi(-95)
        checkEquals(Proximity.NEAR, wallet.parseAdvertisement(lobby.advertisement(), -90).proximity, "threshold")
        checkEquals(Proximity.UNKNOWN, wallet.parseAdvertisement(lobby.advertisement(), null).proximity, "no rssi")
        check(!wallet.parseAdvertisement(doorAdvertisement(8u, 2u), -50).canOpen) { "no key for the garage" }
        expectThrows<KeywayException.InvalidPayload>("garbage") { wallet.parseAdvertisement(byteArrayOf(1, 2), -50) }
        wallet.close()
    }

    suite.test("another door is WrongDoor, with its message, and nothing is sent to it") {
        val property = SimulatedProperty()
        property.addDoor(7u, "Lobby")
        val garage = property.addDoor(8u, "Garage")
        val wallet = guest(property, listOf(7u))
        val link = SimulatedDoorLink(garage)
        val e = expectThrows<KeywayException.WrongDoor>("unlock at the garage") {
            runBlocking { wallet.unlock(7u, link) }
        }
        checkEquals("this is door 8, not door 7: connect to door 7", e.message, "message")
        check(link.sent.isEmpty()) { "frames sent to the wrong door" }
        wallet.close()
    }

    suite.test("unlockEvents() Flow: the progress of a granted unlock over a push link") {
        val property = SimulatedProperty()
        val lobby = property.addDoor(7u, "Lobby")
        val wallet = guest(property, listOf(7u))
        runBlocking {
            val events = async(Dispatchers.Default) { wallet.unlockEvents().take(5).toList() }
            // Subscribed once the collector runs: give it the chance before unlocking.
            while (!events.isActive) yield()
            Thread.sleep(100)
            val link = PushLink()
            launch(Dispatchers.Default) { drive(link, lobby) }
            val report = withTimeout(5_000) { wallet.unlockPush(7u, link) }
            check(report.granted) { "$report" }
            val seen = withTimeout(5_000) { events.await() }
            checkEquals(
                listOf("Connecting", "DoorVerified", "RequestSent", "Granted", "ReceiptStored"),
                seen.map(::name), "progress",
            )
            check(link.isFinished()) { "the link is not finished" }
        }
        wallet.close()
    }

    suite.test("a cancelled push unlock ends the link at once and frees the wallet") {
        val property = SimulatedProperty()
        val lobby = property.addDoor(7u, "Lobby")
        val wallet = guest(property, listOf(7u))
        val silent = PushLink()
        silent.connected(247u)
        runBlocking {
            val writer = async(Dispatchers.Default) { silent.nextWrite() }
            check(withTimeoutOrNull(300) { wallet.unlockPush(7u, silent) } == null) { "the silent door answered" }
            val end = withTimeoutOrNull(100) { writer.await() }
            check(end == null && silent.isFinished()) { "nextWrite did not end at the cancel" }
            val fresh = PushLink()
            launch(Dispatchers.Default) { drive(fresh, lobby) }
            check(withTimeout(2_000) { wallet.unlockPush(7u, fresh) }.granted) { "the next unlock" }
        }
        checkEquals(1, wallet.receipts().size, "receipts (none from the cancelled exchange)")
        wallet.close()
    }

    suite.test("keyUpdates() Flow sees a revocation after sync; unlock events of a granted and a denied unlock") {
        val binary = System.getenv("KEYWAY_MISSION_CONTROL") ?: error("KEYWAY_MISSION_CONTROL is not set")
        MissionControl(binary, tmp.resolve("streams.db").path).use { backend ->
            backend.createProperty()
            val door = SimulatedDoor.provisioned(backend.createDoor("Lobby"))
            val ana = enrolled(backend, "Ana", listOf(door.doorId()))
            val bo = enrolled(backend, "Bo", listOf(door.doorId()))
            val anaKey = ana.keys().single()
            runBlocking {
                val first = ana.keyUpdates().first()
                check(first.keys.single().state == KeyState.Active) { "$first" }
                // Bo's key is revoked: his keyUpdates() flow hears it at his next sync.
                val boKey = bo.keys().single()
                val revoked = async(Dispatchers.Default) {
                    bo.keyUpdates().first { u -> u.changes.any { it is KeyChange.Revoked } }
                }
                Thread.sleep(100)
                backend.call("DELETE", "/v1/keys/${boKey.keyId}")
                bo.sync()
                val update = withTimeout(5_000) { revoked.await() }
                check(update.keys.single().state == KeyState.Revoked) { "$update" }

                // Ana's key is deleted; Carl carries the revocation to the door (granted, with
                // updates), then Ana, not synced, is refused.
                val carl = enrolled(backend, "Carl", listOf(door.doorId()))
                backend.call("DELETE", "/v1/keys/${anaKey.keyId}")
                carl.sync()
                val carlEvents = async(Dispatchers.Default) { carl.unlockEvents().take(6).toList() }
                Thread.sleep(100)
                check(carl.unlock(door.doorId(), SimulatedDoorLink(door)).granted) { "Carl's unlock" }
                checkEquals(
                    listOf("Connecting", "DoorVerified", "RequestSent", "Granted", "UpdatesDelivered", "ReceiptStored"),
                    withTimeout(5_000) { carlEvents.await() }.map(::name), "granted progress",
                )
                val anaEvents = async(Dispatchers.Default) { ana.unlockEvents().take(4).toList() }
                Thread.sleep(100)
                check(!ana.unlock(door.doorId(), SimulatedDoorLink(door)).granted) { "Ana was let in" }
                val denied = withTimeout(5_000) { anaEvents.await() }
                checkEquals(
                    // A refused presenter gets no receipt: the run ends with the denial.
                    listOf("Connecting", "DoorVerified", "RequestSent", "Denied"),
                    denied.map(::name), "denied progress",
                )
                checkEquals(DenialReason.REVOKED_KEY, (denied[3] as UnlockEvent.Denied).reason, "denial reason")
                carl.close()
            }
            ana.close()
            bo.close()
        }
    }

    suite.test("a failed unlock's event carries the error kind and message") {
        val property = SimulatedProperty()
        property.addDoor(7u, "Lobby")
        val garage = property.addDoor(8u, "Garage")
        val wallet = guest(property, listOf(7u))
        val events = java.util.concurrent.CopyOnWriteArrayList<UnlockEvent>()
        val subscription = wallet.subscribeUnlockEvents(object : io.keyway.core.UnlockListener {
            override fun onEvent(event: UnlockEvent) {
                events += event
            }
        })
        expectThrows<KeywayException.WrongDoor>("wrong door") { runBlocking { wallet.unlock(7u, SimulatedDoorLink(garage)) } }
        val failed = events.last() as UnlockEvent.Failed
        checkEquals(ErrorKind.WRONG_DOOR, failed.kind, "kind")
        subscription.close()
        expectThrows<KeywayException.WrongDoor>("again") { runBlocking { wallet.unlock(7u, SimulatedDoorLink(garage)) } }
        checkEquals(2, events.size, "no events after the subscription is closed")
        wallet.close()
    }
}
