package io.keyway.tests

import io.keyway.core.Activity
import io.keyway.core.BleLink
import io.keyway.core.CallbackException
import io.keyway.core.DenialReason
import io.keyway.core.DoorActuator
import io.keyway.core.DoorCallbackException
import io.keyway.core.DoorController
import io.keyway.core.DoorEntry
import io.keyway.core.DoorException
import io.keyway.core.DoorFeedEvent
import io.keyway.core.DoorFeedListener
import io.keyway.core.DoorLink
import io.keyway.core.DoorStore
import io.keyway.core.KeywayException
import io.keyway.core.SessionProgress
import io.keyway.core.Wallet
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.runBlocking

// A door controller written in Kotlin on Keyway's door SDK (as an Android intercom would run
// it): its state in a file, an actuator that records openings, and a link that a wallet in the
// same process unlocks through.

/** The door's state in one file: temporary file, fsync, rename. `failSaves` fails the next saves. */
class FileDoorStore(private val file: File) : DoorStore {
    @Volatile var saves = 0
    @Volatile var failSaves = 0

    override fun load(): ByteArray? = if (file.exists()) file.readBytes() else null

    override fun save(state: ByteArray) {
        if (failSaves > 0) {
            failSaves--
            throw DoorCallbackException.Storage("no space left on device")
        }
        val tmp = File(file.path + ".tmp")
        java.io.FileOutputStream(tmp).use { out ->
            out.write(state)
            out.fd.sync()
        }
        java.nio.file.Files.move(tmp.toPath(), file.toPath(), java.nio.file.StandardCopyOption.ATOMIC_MOVE)
        saves++
    }

    /** The update seq a door restarted from this file would have. */
    fun savedSeq(): ULong = DoorController.restore(this, RecordingActuator()).updateSeq()
}

class RecordingActuator(private val store: FileDoorStore? = null) : DoorActuator {
    val opened = java.util.concurrent.CopyOnWriteArrayList<DoorEntry>()
    val savesAtOpen = java.util.concurrent.CopyOnWriteArrayList<Int>()

    override fun open(entry: DoorEntry) {
        opened += entry
        store?.let { savesAtOpen += it.saves }
    }
}

/**
 * The wallet's BLE link to the Kotlin door with no radio between: each written frame goes
 * into the door's connection, the door's notifications queue for the wallet, and the door's
 * `disconnect` queues the end after them.
 */
class WalletToDoorLink(door: DoorController, private val mtu: UInt = 247u) : BleLink {
    private val closedMark = ByteArray(0)
    private val notifications = LinkedBlockingQueue<ByteArray>()
    val doorErrors = java.util.concurrent.CopyOnWriteArrayList<DoorException>()
    val progress = java.util.concurrent.CopyOnWriteArrayList<SessionProgress>()
    var doorDisconnects = 0
    private val doorLink = object : DoorLink {
        override fun sendFrame(frame: ByteArray) {
            notifications.add(frame)
        }

        override fun disconnect() {
            doorDisconnects++
            notifications.add(closedMark)
        }
    }
    val connection = door.connect(doorLink, mtu)

    override fun mtu(): UInt = mtu

    override fun sendFrame(frame: ByteArray) {
        check(frame.size <= mtu.toInt() - 3) { "the wallet wrote a frame larger than one ATT packet" }
        try {
            progress += connection.frameReceived(frame)
        } catch (e: DoorException) {
            doorErrors += e
        }
    }

    override fun receiveFrame(timeoutMs: UInt): ByteArray {
        val frame = notifications.poll(timeoutMs.toLong(), TimeUnit.MILLISECONDS) ?: throw CallbackException.LinkTimeout()
        if (frame === closedMark) throw CallbackException.LinkDisconnected()
        return frame
    }

    override fun disconnect() {
        connection.disconnected()
    }
}

/** The controller's feed listener: every event, with the seq the door's file held when it arrived. */
class RecordingFeedListener(private val store: FileDoorStore) : DoorFeedListener {
    val events = java.util.concurrent.CopyOnWriteArrayList<Pair<DoorFeedEvent, ULong>>()

    override fun onEvent(event: DoorFeedEvent) {
        events += event to store.savedSeq()
    }

    inline fun <reified T : DoorFeedEvent> awaitEvent(what: String): Pair<T, ULong> {
        val deadline = System.nanoTime() + 20_000_000_000L
        while (System.nanoTime() < deadline) {
            events.firstOrNull { it.first is T }?.let { return it.first as T to it.second }
            Thread.sleep(20)
        }
        error("no $what within 20 s: $events")
    }
}

private fun personOf(json: String): String =
    Regex("\"person_id\"\\s*:\\s*\"?(\\d+)").find(json)?.groupValues?.get(1) ?: error("no person_id in $json")

/** Invites `name` to `doors` with `access`; returns the person id and their welcome token. */
private fun invitePerson(backend: MissionControl, name: String, doors: List<UInt>, access: String): Pair<String, String> {
    val resp = backend.call(
        "POST", "/v1/invites",
        """{"name":"$name","contact":"$name@example.test","access":"$access","keys":[{"doors":[${doors.joinToString(",")}],"expiry":"never"}],"resident":true}""",
    )
    val person = personOf(resp)
    val message = Regex("\\{[^{}]*\"person_id\"\\s*:\\s*\"?$person\"?[,}][^{}]*\\}").find(backend.call("GET", "/v1/outbox"))?.value
        ?: error("no welcome message for person $person")
    val token = Regex("\"token\"\\s*:\\s*\"([^\"]+)\"").find(message)?.groupValues?.get(1) ?: error("no token in $message")
    return person to token
}

private fun residentWallet(backend: MissionControl, name: String, doors: List<UInt>): Pair<String, Wallet> {
    val (person, token) = invitePerson(backend, name, doors, "app_key")
    val wallet = Wallet.openInMemory(MapStore())
    runBlocking { wallet.acceptInvite(backend.baseUrl, token) }
    return person to wallet
}

/** Today's doorcode of the holder with welcome token `token` at `doorId`. */
private fun doorcode(backend: MissionControl, token: String, doorId: UInt): String {
    val req = HttpRequest.newBuilder(URI.create(backend.baseUrl + "/v1/doorcodes")).header("Authorization", "Bearer $token").build()
    val body = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString()).body()
    return Regex("\"door_id\"\\s*:\\s*$doorId,[^{}]*?\"code\"\\s*:\\s*\"(\\d+)\"").find(body)?.groupValues?.get(1)
        ?: error("no code for door $doorId in $body")
}

fun doorSdkTests(suite: Suite, tmp: File) {
    val binary = { System.getenv("KEYWAY_MISSION_CONTROL") ?: error("KEYWAY_MISSION_CONTROL is not set") }

    suite.test("a Kotlin door: a grant, an update-carrying unlock receipted at its seq, a denial") {
        MissionControl(binary(), tmp.resolve("door-sdk-1.db").path).use { backend ->
            backend.createProperty()
            val store = FileDoorStore(tmp.resolve("lobby-1.state"))
            val actuator = RecordingActuator(store)
            val door = DoorController.provision(backend.createDoor("Lobby"), store, actuator)
            checkEquals(1, store.saves, "the install is saved")
            val doorId = door.doorId()
            val (_, ana) = residentWallet(backend, "Ana", listOf(doorId))
            val (bo, boWallet) = residentWallet(backend, "Bo", listOf(doorId))

            val first = runBlocking { ana.unlock(doorId, WalletToDoorLink(door, 185u)) }
            check(first.granted && !first.updatesCarried) { "first unlock: $first" }
            check(actuator.opened.single().activity.event is Activity.AppUnlock) { "opened: ${actuator.opened}" }

            backend.call("DELETE", "/v1/people/$bo")
            runBlocking { ana.sync() }
            val pending = ana.pendingUpdates().single()
            val saves = store.saves
            val link = WalletToDoorLink(door, 23u)
            val carried = runBlocking { ana.unlock(doorId, link) }
            check(carried.granted && carried.updatesCarried) { "carrying unlock: $carried" }
            checkEquals(pending.lastSeq, carried.seqAfter, "seq after")
            checkEquals(pending.lastSeq, ana.receipts().last().appliedSeq, "the receipt's applied seq")
            checkEquals(pending.lastSeq, store.savedSeq(), "the seq on disk")
            checkEquals(saves, actuator.savesAtOpen.last(), "the lock opened on the decision, before the batch was saved")
            val finished = link.progress.last()
            check(finished is SessionProgress.Finished && finished.report.seqAfter == pending.lastSeq) { "door report: $finished" }
            check(ana.pendingUpdates().isEmpty()) { "updates still pending: ${ana.pendingUpdates()}" }

            val denied = runBlocking { boWallet.unlock(doorId, WalletToDoorLink(door)) }
            check(!denied.granted) { "a removed person opened the door: $denied" }
            check(denied.denial == DenialReason.REVOKED_PERSON || denied.denial == DenialReason.REVOKED_DEVICE) { "denial: $denied" }
            checkEquals(2, actuator.opened.size, "openings")
            val advert = ana.parseAdvertisement(door.scanResponse(), null)
            checkEquals(pending.lastSeq.toUInt(), advert.seqHint, "advertised seq")
        }
    }

    suite.test("a Kotlin door whose save fails withholds the result; restarted, it takes the update again") {
        MissionControl(binary(), tmp.resolve("door-sdk-2.db").path).use { backend ->
            backend.createProperty()
            val store = FileDoorStore(tmp.resolve("lobby-2.state"))
            val door = DoorController.provision(backend.createDoor("Lobby"), store, RecordingActuator())
            val doorId = door.doorId()
            val (_, ana) = residentWallet(backend, "Ana", listOf(doorId))
            val (bo, _) = residentWallet(backend, "Bo", listOf(doorId))
            backend.call("DELETE", "/v1/people/$bo")
            runBlocking { ana.sync() }
            val pending = ana.pendingUpdates().single()

            store.failSaves = 1
            val link = WalletToDoorLink(door, 247u)
            expectThrows<KeywayException.LinkDisconnected>("unlock at a door that cannot save") {
                runBlocking { ana.unlock(doorId, link) }
            }
            val error = link.doorErrors.single()
            check(error is DoorException.Storage && error.message!!.contains("no space left")) { "door error: $error" }
            checkEquals(1, link.doorDisconnects, "the door hung up")
            check(link.progress.none { it is SessionProgress.Finished }) { "a result left the door: ${link.progress}" }
            check(ana.receipts().isEmpty()) { "a receipt was kept: ${ana.receipts()}" }
            checkEquals(listOf(pending), ana.pendingUpdates(), "the phone still carries the update")
            checkEquals(0uL, store.savedSeq(), "the seq on disk")

            val restarted = DoorController.restore(store, RecordingActuator())
            val retry = runBlocking { ana.unlock(doorId, WalletToDoorLink(restarted)) }
            check(retry.granted && retry.updatesCarried && retry.seqAfter == pending.lastSeq) { "retry: $retry" }
            checkEquals(pending.lastSeq, store.savedSeq(), "the seq on disk after the retry")
        }
    }

    suite.test("a Kotlin door's keypad opens on a doorcode once the entry is saved") {
        MissionControl(binary(), tmp.resolve("door-sdk-3.db").path).use { backend ->
            backend.createProperty()
            val store = FileDoorStore(tmp.resolve("lobby-3.state"))
            val actuator = RecordingActuator(store)
            val door = DoorController.provision(backend.createDoor("Lobby"), store, actuator)
            val doorId = door.doorId()
            val (_, ana) = residentWallet(backend, "Ana", listOf(doorId))
            val (dee, deeToken) = invitePerson(backend, "Dee", listOf(doorId), "daily_doorcode")
            val code = doorcode(backend, deeToken, doorId)
            runBlocking { ana.sync() }
            check(runBlocking { ana.unlock(doorId, WalletToDoorLink(door)) }.updatesCarried) { "the slot did not reach the door" }
            val byApp = actuator.opened.size

            val wrong = door.enterDoorcode(((code.toLong() + 1) % 10_000_000_000L).toString().padStart(10, '0'))
            check(!wrong.granted && wrong.denial == DenialReason.UNKNOWN_CREDENTIAL) { "wrong code: $wrong" }
            val saves = store.saves
            val entry = door.enterDoorcode(code)
            val event = entry.activity.event
            check(entry.granted && event is Activity.DoorcodeEntry && event.personId.toString() == dee) { "code entry: $entry" }
            checkEquals(byApp + 1, actuator.opened.size, "openings")
            checkEquals(saves + 1, actuator.savesAtOpen.last(), "saved before the lock opened")
            store.failSaves = 1
            expectThrows<DoorException.Storage>("a door that cannot save") { door.enterDoorcode(code) }
            checkEquals(byApp + 1, actuator.opened.size, "openings after a failed save")
        }
    }

    suite.test("a Kotlin door on its feed: a removal arrives without a phone, saved before its receipt; stop ends it") {
        MissionControl(binary(), tmp.resolve("door-sdk-4.db").path).use { backend ->
            backend.createProperty()
            val store = FileDoorStore(tmp.resolve("lobby-4.state"))
            val actuator = RecordingActuator(store)
            val door = DoorController.provision(backend.createDoor("Lobby"), store, actuator)
            val doorId = door.doorId()
            val (bo, _) = residentWallet(backend, "Bo", listOf(doorId))
            val (cy, _) = residentWallet(backend, "Cy", listOf(doorId))

            expectThrows<DoorException.InvalidInput>("a feed from a URL that is not http(s)") {
                runBlocking { door.startFeed("ftp://127.0.0.1/", RecordingFeedListener(store)) }
            }
            val listener = RecordingFeedListener(store)
            val feed = runBlocking { door.startFeed(backend.baseUrl, listener) }
            val (connected, _) = listener.awaitEvent<DoorFeedEvent.Connected>("feed session")
            checkEquals(0uL, connected.updateSeq, "the seq the feed resumes after")

            val removedAt = System.nanoTime()
            backend.call("DELETE", "/v1/people/$bo")
            val (reported, savedAtReport) = listener.awaitEvent<DoorFeedEvent.Reported>("door receipt")
            val deliveredMs = (System.nanoTime() - removedAt) / 1_000_000
            check(deliveredMs < 5_000) { "the door heard it within seconds: $deliveredMs ms" }
            val seq = reported.appliedSeq
            checkEquals(listOf(seq), reported.newlyDelivered, "newly delivered")
            checkEquals(seq, savedAtReport, "the update was on disk before the receipt was posted")
            val (applied, savedAtApplied) = listener.awaitEvent<DoorFeedEvent.Applied>("applied batch")
            check(applied.seqBefore == 0uL && applied.seqAfter == seq && applied.rejectedUpdates.isEmpty()) { "applied: $applied" }
            checkEquals(seq, savedAtApplied, "saved when the listener heard it")
            checkEquals(seq, door.updateSeq(), "the door's seq")
            check(backend.call("GET", "/v1/door-updates?door_id=$doorId&state=pending").trim() == "[]") { "still pending" }
            check(backend.call("GET", "/v1/door-updates?door_id=$doorId&state=delivered").contains("\"seq\":$seq")) { "not delivered" }
            check(actuator.opened.isEmpty()) { "the feed opened the lock: ${actuator.opened}" }

            feed.stop()
            val deadline = System.nanoTime() + 5_000_000_000L
            while (feed.isRunning() && System.nanoTime() < deadline) Thread.sleep(20)
            check(!feed.isRunning()) { "the feed still runs after stop()" }
            val heard = listener.events.size
            backend.call("DELETE", "/v1/people/$cy")
            Thread.sleep(1_500)
            checkEquals(seq, door.updateSeq(), "a stopped feed applies nothing")
            checkEquals(heard, listener.events.size, "events after stop()")
            check(backend.call("GET", "/v1/door-updates?door_id=$doorId&state=pending").contains("\"seq\"")) { "the removal should be pending" }
            feed.close()
        }
    }
}
