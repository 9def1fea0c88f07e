package io.keyway.tests

import io.keyway.core.KeyState
import io.keyway.core.KeywayException
import io.keyway.core.NetworkOptions
import io.keyway.core.Wallet
import io.keyway.core.doorAdvertisement
import io.keyway.testsupport.SimulatedDoor
import java.io.File
import kotlinx.coroutines.runBlocking

/**
 * One wallet at two properties, each a Mission Control of its own on 127.0.0.1 whose ids
 * collide (both have door 1): both doors open with the right property's key, a revocation at
 * one leaves the other, sync results come per property, leaving one keeps the other, and
 * reset wipes both.
 */
fun propertyTests(suite: Suite, tmp: File) {
    suite.test("one wallet at two backends: both doors open, a revocation at one leaves the other, reset wipes both") {
        val binary = System.getenv("KEYWAY_MISSION_CONTROL") ?: error("KEYWAY_MISSION_CONTROL is not set")
        MissionControl(binary, tmp.resolve("elm.db").path).use { elm ->
            MissionControl(binary, tmp.resolve("oak.db").path).use { oak ->
                elm.createProperty("Elm Court")
                oak.createProperty("Oak Row")
                val lobby = SimulatedDoor.provisioned(elm.createDoor("Lobby"))
                val gate = SimulatedDoor.provisioned(oak.createDoor("Gate"))
                checkEquals(lobby.doorId(), gate.doorId(), "each backend numbers its doors from 1")
                val door = lobby.doorId()
                val store = MapStore()
                val wallet = Wallet.open(tmp.resolve("two.db").path, store)
                runBlocking {
                    wallet.acceptInvite(elm.baseUrl, elm.invite("Ana", listOf(door)))
                    wallet.acceptInvite(oak.baseUrl, oak.invite("Ana", listOf(door)))
                }
                val (a, b) = wallet.properties()
                checkEquals(listOf("Elm Court", "Oak Row"), wallet.properties().map { it.name }, "property names")
                checkEquals(setOf(a.id, b.id), wallet.keys().map { it.property?.id }.toSet(), "a key at each")
                checkEquals(
                    listOf(a.id to "Lobby", b.id to "Gate"),
                    wallet.doors().map { it.property?.id to it.name }, "doors",
                )
                checkEquals(listOf(a.id, b.id), wallet.parseAdvertisement(doorAdvertisement(door, 0u), -50).propertyIds, "candidates")

                runBlocking {
                    val atGate = wallet.unlock(door, SimulatedDoorLink(gate))
                    check(atGate.granted && atGate.property?.id == b.id && atGate.doorName == "Gate") { "$atGate" }
                    val atLobby = wallet.unlock(door, SimulatedDoorLink(lobby))
                    check(atLobby.granted && atLobby.property?.id == a.id && atLobby.doorName == "Lobby") { "$atLobby" }
                    val results = wallet.syncEach()
                    checkEquals(listOf(a.id to null, b.id to null), results.map { it.property.id to it.error }, "sync each")
                    checkEquals(2u, wallet.upload().receiptsUploaded, "receipts, each to its backend")

                    val elmKey = wallet.keys().single { it.property?.id == a.id }
                    elm.call("DELETE", "/v1/keys/${elmKey.keyId}")
                    wallet.sync()
                    checkEquals(
                        mapOf(a.id to KeyState.Revoked, b.id to KeyState.Active),
                        wallet.keys().associate { it.property?.id to it.state }, "states",
                    )
                    check(wallet.unlock(door, SimulatedDoorLink(gate)).granted) { "Oak Row's key still opens" }
                    expectThrows<KeywayException.DoorNotTrusted>("Oak's key at Elm's door") {
                        runBlocking { wallet.unlock(door, SimulatedDoorLink(lobby)) }
                    }

                    elm.close()
                    val quick = NetworkOptions(timeoutMs = 500u, attempts = 1u)
                    val partial = wallet.syncEach(quick)
                    check(partial[0].summary == null && partial[0].error != null) { "${partial[0]}" }
                    check(partial[1].summary != null && partial[1].error == null) { "${partial[1]}" }
                }

                wallet.reset()
                check(wallet.properties().isEmpty() && wallet.keys().isEmpty() && wallet.doors().isEmpty()) { "wiped" }
                check(!wallet.isEnrolled()) { "still enrolled" }
                checkEquals(listOf("device-key"), store.items.keys.toList(), "secrets after reset")
                wallet.close()
            }
        }
    }

    suite.test("leaving one property keeps the other; a joined property's invite is refused unspent") {
        val binary = System.getenv("KEYWAY_MISSION_CONTROL") ?: error("KEYWAY_MISSION_CONTROL is not set")
        MissionControl(binary, tmp.resolve("elm2.db").path).use { elm ->
            MissionControl(binary, tmp.resolve("oak2.db").path).use { oak ->
                elm.createProperty("Elm Court")
                oak.createProperty("Oak Row")
                val lobby = SimulatedDoor.provisioned(elm.createDoor("Lobby"))
                val gate = SimulatedDoor.provisioned(oak.createDoor("Gate"))
                val wallet = Wallet.openInMemory(MapStore())
                runBlocking {
                    wallet.acceptInvite(elm.baseUrl, elm.invite("Ana", listOf(lobby.doorId())))
                    wallet.acceptInvite(oak.baseUrl, oak.invite("Ana", listOf(gate.doorId())))
                }
                val again = elm.invite("Ana2", listOf(lobby.doorId()))
                val refused = expectThrows<KeywayException.NotPermitted>("Elm again") {
                    runBlocking { wallet.acceptInvite(elm.baseUrl, again) }
                }
                check(refused.message!!.contains("not used")) { refused.message!! }
                Wallet.openInMemory(MapStore()).use { other ->
                    checkEquals(1u, runBlocking { other.acceptInvite(elm.baseUrl, again) }.keysReceived, "unspent")
                }
                val (a, b) = wallet.properties()
                wallet.leaveProperty(a.id)
                checkEquals(listOf(b.id), wallet.properties().map { it.id }, "left")
                checkEquals(listOf(b.id), wallet.keys().map { it.property?.id }, "keys left")
                check(runBlocking { wallet.unlock(gate.doorId(), SimulatedDoorLink(gate)) }.granted) { "Oak Row" }
                expectThrows<KeywayException.InvalidInput>("leave twice") { wallet.leaveProperty(a.id) }
                wallet.close()
            }
        }
    }
}
