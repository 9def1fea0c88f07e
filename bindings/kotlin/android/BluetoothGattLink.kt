// Reference source: a Keyway door over Android's BluetoothGatt, driving a PushLink from the
// GATT callbacks. NOT COMPILED HERE (it needs the Android SDK, which this repository's CI does
// not have); copy it into an Android module that depends on the generated io.keyway.core
// bindings (generated with `android = true`). Needs BLUETOOTH_CONNECT (API 31+).
package io.keyway.android

import android.annotation.SuppressLint
import android.bluetooth.BluetoothDevice
import android.bluetooth.BluetoothGatt
import android.bluetooth.BluetoothGattCallback
import android.bluetooth.BluetoothGattCharacteristic
import android.bluetooth.BluetoothGattDescriptor
import android.bluetooth.BluetoothProfile
import android.content.Context
import io.keyway.core.PushLink
import io.keyway.core.UnlockOptions
import io.keyway.core.UnlockReport
import io.keyway.core.Wallet
import io.keyway.core.gattProfile
import java.util.UUID
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch

private val CCCD: UUID = UUID.fromString("00002902-0000-1000-8000-00805f9b34fb")
private const val WANTED_MTU = 247

/**
 * Connects to [device], unlocks [doorId] through [wallet], disconnects. Cancelling the calling
 * coroutine cancels the unlock (Keyway ends the exchange; this disconnects).
 */
@SuppressLint("MissingPermission")
suspend fun unlockOverGatt(
    context: Context,
    wallet: Wallet,
    device: BluetoothDevice,
    doorId: UInt,
    options: UnlockOptions? = null,
): UnlockReport = coroutineScope {
    val profile = gattProfile()
    val service = UUID.fromString(profile.serviceUuid)
    val link = PushLink()
    var written = CompletableDeferred<Unit>()
    var request: BluetoothGattCharacteristic? = null

    val callback = object : BluetoothGattCallback() {
        override fun onConnectionStateChange(gatt: BluetoothGatt, status: Int, newState: Int) {
            when (newState) {
                BluetoothProfile.STATE_CONNECTED -> gatt.requestMtu(WANTED_MTU)
                BluetoothProfile.STATE_DISCONNECTED -> {
                    link.disconnected()
                    gatt.close()
                }
            }
        }

        override fun onMtuChanged(gatt: BluetoothGatt, mtu: Int, status: Int) {
            link.mtuChanged(mtu.toUInt())
            if (request == null) gatt.discoverServices()
        }

        override fun onServicesDiscovered(gatt: BluetoothGatt, status: Int) {
            val keyway = gatt.getService(service) ?: return link.disconnected()
            request = keyway.getCharacteristic(UUID.fromString(profile.requestUuid))
            val response = keyway.getCharacteristic(UUID.fromString(profile.responseUuid))
            if (request == null || response == null) return link.disconnected()
            gatt.setCharacteristicNotification(response, true)
            gatt.writeDescriptor(response.getDescriptor(CCCD), BluetoothGattDescriptor.ENABLE_NOTIFICATION_VALUE)
        }

        override fun onDescriptorWrite(gatt: BluetoothGatt, descriptor: BluetoothGattDescriptor, status: Int) {
            // Subscribed: the door sends its challenge now.
            if (status == BluetoothGatt.GATT_SUCCESS) link.connected(WANTED_MTU.toUInt()) else link.disconnected()
        }

        override fun onCharacteristicChanged(gatt: BluetoothGatt, c: BluetoothGattCharacteristic, value: ByteArray) {
            runCatching { link.notification(value) }.onFailure { gatt.disconnect() }
        }

        override fun onCharacteristicWrite(gatt: BluetoothGatt, c: BluetoothGattCharacteristic, status: Int) {
            written.complete(Unit)
        }
    }

    val gatt = device.connectGatt(context, false, callback, BluetoothDevice.TRANSPORT_LE)
    // The writer: one frame at a time, each after the previous write is confirmed; the end of
    // the exchange (null) disconnects.
    launch {
        while (true) {
            val frame = link.nextWrite() ?: break
            written = CompletableDeferred()
            gatt.writeCharacteristic(request!!, frame, BluetoothGattCharacteristic.WRITE_TYPE_DEFAULT)
            written.await()
        }
        gatt.disconnect()
    }
    try {
        wallet.unlockPush(doorId, link, options)
    } finally {
        link.disconnected()
        gatt.disconnect()
    }
}
