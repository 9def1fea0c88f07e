package io.keyway.tests

import io.keyway.core.Activity
import io.keyway.core.CallbackException
import io.keyway.core.KeyState
import io.keyway.core.KeywayException
import io.keyway.core.LogLevel
import io.keyway.testsupport.SimulatedDoor
import io.keyway.testsupport.SimulatedProperty
import io.keyway.core.Wallet
import io.keyway.core.frameCapacity
import io.keyway.core.gattProfile
import io.keyway.core.readShareRequest
import io.keyway.core.setLogSink
import java.nio.file.Files
import java.time.Duration
import java.time.Instant
import kotlin.system.exitProcess
import kotlinx.coroutines.runBlocking

fun main() {
    val suite = Suite()
    val tmp = Files.createTempDirectory("keyway-kotlin-tests").toFile()

    suite.test("open creates the device key in the app's store and reopens with it") {
        val store = MapStore()
        val db = tmp.resolve("wallet.db").path
        val device = Wallet.open(db, store).use { wallet ->
            checkEquals(listOf("device-key"), store.items.keys.toList(), "stored secrets")
            checkEquals(32, store.items["device-key"]!!.size, "device key length")
            check(wallet.keys().isEmpty()) { "a new wallet holds no keys" }
            check(wallet.doors().isEmpty()) { "a new wallet knows no doors" }
            wallet.devicePublicKey()
        }
        checkEquals(64, device.length, "hex public key length")
        Wallet.open(db, store).use { checkEquals(device, it.devicePublicKey(), "device key after reopen") }
        checkEquals(1, store.puts, "device key writes")
    }

    suite.test("secure store failures surface as clear exceptions") {
        val locked = expectThrows<KeywayException.SecureStorage>("locked store") {
            Wallet.open(tmp.resolve("locked.db").path, LockedStore())
        }
        checkEquals("secure storage: device is locked", locked.message, "locked store message")
        val buggy = expectThrows<KeywayException.SecureStorage>("buggy store") { Wallet.openInMemory(BuggyStore()) }
        check(buggy.message!!.contains("app callback failed") && buggy.message!!.contains("keystore wrapper bug")) {
            "message: ${buggy.message}"
        }
    }

    suite.test("share request names this device and tampering is caught") {
        Wallet.openInMemory(MapStore()).use { wallet ->
            val text = wallet.shareRequest("Bo's phone")
            check(text.startsWith("KWSR1.")) { text }
            val info = readShareRequest(text)
            checkEquals("Bo's phone", info.name, "name")
            checkEquals(wallet.devicePublicKey(), info.deviceKey, "device key")
            expectThrows<KeywayException.InvalidPayload>("garbage") { readShareRequest("KWSR1.????") }
            expectThrows<KeywayException.UnknownKey>("no parent key") {
                wallet.shareOffline(1uL, text, listOf(7u), Instant.now(), Instant.now().plus(Duration.ofDays(1)))
            }
            expectThrows<KeywayException.InvalidInput>("no doors") {
                wallet.shareOffline(1uL, text, listOf(), Instant.now(), Instant.now().plus(Duration.ofDays(1)))
            }
        }
    }

    suite.test("gatt profile and frame capacity") {
        val p = gattProfile()
        checkEquals(3, setOf(p.serviceUuid, p.requestUuid, p.responseUuid).size, "distinct uuids")
        java.util.UUID.fromString(p.serviceUuid)
        checkEquals(244u, frameCapacity(247u), "capacity at 247")
        checkEquals(20u, frameCapacity(0u), "capacity below the minimum MTU")
    }

    suite.test("guest key offer is accepted and listed with its state") {
        val property = SimulatedProperty()
        property.addDoor(7u, "Lobby")
        Wallet.openInMemory(MapStore()).use { wallet ->
            val offer = property.issueGuestOffer(
                wallet.devicePublicKey(), listOf(7u),
                Instant.now().minusSeconds(60), Instant.now().plus(Duration.ofDays(1)),
            )
            val key = wallet.acceptGuestKey(offer)
            check(key.isGuest && !key.mayShare) { "guest key flags: $key" }
            checkEquals(listOf(7u), key.doors, "doors")
            checkEquals(KeyState.Active, key.state, "state")
            checkEquals(listOf(key), wallet.keys(), "listed keys")
            val later = wallet.keysAt(Instant.now().plus(Duration.ofDays(3)))
            check(later.single().state is KeyState.Expired) { "state in 3 days: ${later.single().state}" }
            Wallet.openInMemory(MapStore()).use { stranger ->
                expectThrows<KeywayException.NotPermitted>("offer for another device") { stranger.acceptGuestKey(offer) }
            }
        }
    }

    suite.test("unlock a simulated door through a Kotlin BLE link") {
        val property = SimulatedProperty()
        val lobby = property.addDoor(7u, "Lobby")
        property.addDoor(8u, "Garage").use { garage ->
            Wallet.openInMemory(MapStore()).use { wallet ->
                val offer = property.issueGuestOffer(
                    wallet.devicePublicKey(), listOf(7u),
                    Instant.now().minusSeconds(60), Instant.now().plus(Duration.ofDays(1)),
                )
                val key = wallet.acceptGuestKey(offer)
                for (mtu in listOf(23u, 185u, 517u)) {
                    val link = SimulatedDoorLink(lobby, mtu)
                    val result = runBlocking { wallet.unlock(7u, link) }
                    check(result.granted && result.denial == null) { "result at MTU $mtu: $result" }
                    checkEquals(1, link.closed, "link closed once")
                    check(link.sent.all { it.size <= mtu.toInt() - 3 }) { "frame sizes at MTU $mtu" }
                }
                val log = lobby.activity()
                checkEquals(3, log.size, "door activity records")
                val first = log.first().event
                check(first is Activity.AppUnlock && first.keyId == key.keyId && first.guest) { "door logged $first" }
                checkEquals(3, wallet.receipts().size, "receipts kept")
                expectThrows<KeywayException.UnknownDoor>("door the guest's wallet does not know") {
                    runBlocking { wallet.unlock(8u, SimulatedDoorLink(garage)) }
                }
                val silent = object : SimulatedDoorLink(lobby) {
                    override fun receiveFrame(timeoutMs: UInt): ByteArray = throw CallbackException.LinkTimeout()
                }
                expectThrows<KeywayException.LinkTimeout>("silent door") { runBlocking { wallet.unlock(7u, silent) } }
                checkEquals(3, wallet.receipts().size, "no receipt from a failed unlock")
            }
        }
    }

    suite.test("accept an invite from the reference backend, sync, unlock and upload") {
        val binary = System.getenv("KEYWAY_MISSION_CONTROL") ?: error("KEYWAY_MISSION_CONTROL is not set")
        MissionControl(binary, tmp.resolve("mc.db").path).use { backend ->
            backend.createProperty()
            val door = SimulatedDoor.provisioned(backend.createDoor("Lobby"))
            val token = backend.invite("Dee", listOf(door.doorId()))
            Wallet.open(tmp.resolve("dee.db").path, MapStore()).use { wallet ->
                check(!wallet.isEnrolled()) { "enrolled before the invite" }
                expectThrows<KeywayException.NotEnrolled>("sync before the invite") { runBlocking { wallet.sync() } }
                val summary = runBlocking { wallet.acceptInvite(backend.baseUrl, token) }
                checkEquals(1u, summary.keysReceived, "keys received")
                val key = wallet.keys().single()
                check(key.resident && key.state == KeyState.Active) { "key: $key" }
                checkEquals(listOf("Lobby"), wallet.doors().map { it.name }, "door names")
                val result = runBlocking { wallet.unlock(door.doorId(), SimulatedDoorLink(door, 247u)) }
                check(result.granted && result.keyId == key.keyId) { "unlock: $result" }
                val uploaded = runBlocking { wallet.upload() }
                checkEquals(1u, uploaded.receiptsUploaded, "receipts uploaded")
                check(wallet.receipts().all { it.uploaded }) { "receipts not marked uploaded" }
                check(backend.call("GET", "/v1/activity?door_id=${door.doorId()}").trim() != "[]") {
                    "the backend shows no activity for the door"
                }
                expectThrows<KeywayException.Rejected>("invite used twice") {
                    runBlocking { Wallet.openInMemory(MapStore()).use { it.acceptInvite(backend.baseUrl, token) } }
                }
            }
        }
    }

    suite.test("log sink receives wallet events") {
        val sink = RecordingSink()
        setLogSink(sink, LogLevel.INFO)
        try {
            Wallet.openInMemory(MapStore()).close()
            val opened = sink.records.filter { it.message.contains("wallet opened") }
            check(opened.isNotEmpty() && opened[0].level == LogLevel.INFO) { "records: ${sink.records}" }
        } finally {
            setLogSink(null, LogLevel.ERROR)
        }
    }

    packageTests(suite)
    concurrencyTests(suite)
    errorTests(suite)
    streamTests(suite, tmp)
    propertyTests(suite, tmp)
    doorSdkTests(suite, tmp)

    val status = suite.run()
    tmp.deleteRecursively()
    exitProcess(status)
}
