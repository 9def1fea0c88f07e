package io.keyway.tests

import io.keyway.core.KeyInfo
import io.keyway.core.KeywayException
import io.keyway.testsupport.SimulatedProperty
import io.keyway.core.UnlockOptions
import io.keyway.core.Wallet
import java.time.Duration
import java.time.Instant
import kotlinx.coroutines.runBlocking

// Every error reaches Kotlin with its human message as the exception's `message`; records
// are values (`val` properties, no setters).

fun errorTests(suite: Suite) {
    suite.test("exceptions carry their human message") {
        val property = SimulatedProperty()
        val lobby = property.addDoor(7u, "Lobby")
        Wallet.openInMemory(MapStore()).use { wallet ->
            val start = Instant.now().plus(Duration.ofHours(2))
            wallet.acceptGuestKey(property.issueGuestOffer(wallet.devicePublicKey(), listOf(7u), start, start.plus(Duration.ofDays(1))))
            val noKey = expectThrows<KeywayException.NoKeyForDoor>("upcoming key") {
                runBlocking { wallet.unlock(7u, SimulatedDoorLink(lobby)) }
            }
            checkEquals("no active key opens door 7", noKey.message, "NoKeyForDoor message")
            val unknown = expectThrows<KeywayException.UnknownDoor>("unknown door") {
                runBlocking { wallet.unlock(9u, SilentDoorLink()) }
            }
            checkEquals("door 9 is unknown to this wallet (sync first)", unknown.message, "UnknownDoor message")
            val notEnrolled = expectThrows<KeywayException.NotEnrolled>("sync") { runBlocking { wallet.sync() } }
            checkEquals("this wallet has not accepted an invite yet", notEnrolled.message, "NotEnrolled message")
            val bad = expectThrows<KeywayException.InvalidPayload>("bad offer") { wallet.acceptGuestKey("KWGK1.!!!!") }
            check(bad.message!!.startsWith("invalid payload: ")) { "InvalidPayload message: ${bad.message}" }
        }
        Wallet.openInMemory(MapStore()).use { wallet ->
            val now = Instant.now()
            wallet.acceptGuestKey(property.issueGuestOffer(wallet.devicePublicKey(), listOf(7u), now.minusSeconds(60), now.plus(Duration.ofDays(1))))
            val timeout = expectThrows<KeywayException.LinkTimeout>("silent door") {
                runBlocking { wallet.unlock(7u, SilentDoorLink(), UnlockOptions(100u)) }
            }
            checkEquals("the door did not answer in time", timeout.message, "LinkTimeout message")
        }
    }

    suite.test("records are immutable values") {
        for (record in listOf(KeyInfo::class.java, UnlockOptions::class.java)) {
            val setters = record.methods.filter { it.name.startsWith("set") }.map { it.name }
            check(setters.isEmpty()) { "${record.simpleName} has setters $setters" }
        }
    }
}
