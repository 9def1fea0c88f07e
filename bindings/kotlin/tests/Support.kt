package io.keyway.tests

import io.keyway.core.BleLink
import io.keyway.core.CallbackException
import io.keyway.core.LogRecord
import io.keyway.core.LogSink
import io.keyway.core.SecureStore
import io.keyway.testsupport.SimulatedDoor

/** Secrets in a map, standing in for the Android Keystore. */
class MapStore : SecureStore {
    val items = java.util.concurrent.ConcurrentHashMap<String, ByteArray>()
    var puts = 0

    override fun get(name: String): ByteArray? = items[name]

    override fun put(name: String, secret: ByteArray) {
        puts++
        items[name] = secret.copyOf()
    }

    override fun delete(name: String) {
        items.remove(name)
    }
}

/** A store whose device is locked, failing the way Keyway asks apps to. */
class LockedStore : SecureStore {
    override fun get(name: String): ByteArray? = throw CallbackException.SecureStorage("device is locked")
    override fun put(name: String, secret: ByteArray) = throw CallbackException.SecureStorage("device is locked")
    override fun delete(name: String) = throw CallbackException.SecureStorage("device is locked")
}

/** A store with a bug: throws an exception Keyway does not declare. */
class BuggyStore : SecureStore {
    override fun get(name: String): ByteArray? = throw IllegalStateException("keystore wrapper bug")
    override fun put(name: String, secret: ByteArray) = throw IllegalStateException("keystore wrapper bug")
    override fun delete(name: String) = throw IllegalStateException("keystore wrapper bug")
}

/**
 * A BLE link as an Android app writes one over BluetoothGatt, with a simulated door in
 * place of the peripheral: connecting subscribes and yields the door's challenge, each
 * written frame may trigger notifications, notifications queue until Keyway reads them.
 */
open class SimulatedDoorLink(private val door: SimulatedDoor, private val mtu: UInt = 247u) : BleLink {
    private val notifications = java.util.concurrent.LinkedBlockingQueue<ByteArray>(door.connect(mtu))
    val sent = mutableListOf<ByteArray>()
    var closed = 0

    override fun mtu(): UInt = mtu

    override fun sendFrame(frame: ByteArray) {
        check(frame.size <= mtu.toInt() - 3) { "Keyway wrote a frame larger than one ATT packet" }
        sent += frame
        notifications.addAll(door.write(frame))
    }

    override fun receiveFrame(timeoutMs: UInt): ByteArray =
        notifications.poll(timeoutMs.toLong(), java.util.concurrent.TimeUnit.MILLISECONDS)
            ?: throw CallbackException.LinkTimeout()

    override fun disconnect() {
        closed++
    }
}

class RecordingSink : LogSink {
    val records = java.util.Collections.synchronizedList(mutableListOf<LogRecord>())

    override fun log(record: LogRecord) {
        records += record
    }
}

/** A door that accepted the connection and then says nothing, until the app disconnects. */
class SilentDoorLink : BleLink {
    val receiving = java.util.concurrent.CountDownLatch(1)
    private val disconnected = java.util.concurrent.CountDownLatch(1)
    val closed = java.util.concurrent.atomic.AtomicInteger(0)
    val timeouts = java.util.concurrent.CopyOnWriteArrayList<UInt>()

    override fun mtu(): UInt = 247u

    override fun sendFrame(frame: ByteArray) {}

    override fun receiveFrame(timeoutMs: UInt): ByteArray {
        timeouts += timeoutMs
        receiving.countDown()
        if (disconnected.await(timeoutMs.toLong(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
            throw CallbackException.LinkDisconnected()
        }
        throw CallbackException.LinkTimeout()
    }

    override fun disconnect() {
        closed.incrementAndGet()
        disconnected.countDown()
    }
}

/** A backend that accepts connections and never answers. */
class BlackHole : AutoCloseable {
    private val server = java.net.ServerSocket(0, 16, java.net.InetAddress.getLoopbackAddress())
    private val held = java.util.concurrent.CopyOnWriteArrayList<java.net.Socket>()
    val accepted = java.util.concurrent.CountDownLatch(1)
    val url = "http://127.0.0.1:${server.localPort}"

    init {
        Thread {
            try {
                while (true) {
                    held += server.accept()
                    accepted.countDown()
                }
            } catch (e: java.io.IOException) {
                // closed
            }
        }.apply { isDaemon = true }.start()
    }

    override fun close() {
        server.close()
        held.forEach { it.close() }
    }
}

/** A secure store as a reinstall leaves it: enrolled at `backendUrl`, database gone. */
fun enrolledStore(backendUrl: String): MapStore = MapStore().apply {
    items["device-token"] = "token-of-a-previous-install".toByteArray()
    items["backend-url"] = backendUrl.toByteArray()
}
