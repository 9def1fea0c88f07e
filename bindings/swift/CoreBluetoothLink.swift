// Reference source: a Keyway door over CoreBluetooth, driving a PushLink from the
// CBPeripheralDelegate callbacks. NOT COMPILED HERE (there is no Swift toolchain or iOS SDK on
// this repository's CI); add it to an app target next to the generated KeywayCore.swift.
// Needs NSBluetoothAlwaysUsageDescription in Info.plist.

import CoreBluetooth
import Foundation

public final class CoreBluetoothDoorLink: NSObject, CBPeripheralDelegate, @unchecked Sendable {
    private let peripheral: CBPeripheral
    private let central: CBCentralManager
    private let link = PushLink()
    private let profile = gattProfile()
    private var request: CBCharacteristic?
    private var writeDone: CheckedContinuation<Void, Never>?

    /// `peripheral` is connected (centralManager(_:didConnect:) has run) by `central`.
    public init(central: CBCentralManager, peripheral: CBPeripheral) {
        self.central = central
        self.peripheral = peripheral
        super.init()
        peripheral.delegate = self
    }

    /// Unlocks `doorId` through `wallet`. Cancelling the Task cancels the unlock.
    public func unlock(wallet: Wallet, doorId: UInt32, options: UnlockOptions? = nil) async throws -> UnlockReport {
        peripheral.discoverServices([CBUUID(string: profile.serviceUuid)])
        let writer = Task { [self] in
            while let frame = await link.nextWrite() {
                guard let request else { break }
                let type: CBCharacteristicWriteType = request.properties.contains(.write) ? .withResponse : .withoutResponse
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    writeDone = done
                    peripheral.writeValue(frame, for: request, type: type)
                    if type == .withoutResponse { writeDone = nil; done.resume() }
                }
            }
            central.cancelPeripheralConnection(peripheral)
        }
        defer {
            link.disconnected()
            writer.cancel()
            central.cancelPeripheralConnection(peripheral)
        }
        return try await wallet.unlockPush(doorId: doorId, link: link, options: options)
    }

    /// Call from centralManager(_:didDisconnectPeripheral:error:).
    public func didDisconnect() { link.disconnected() }

    public func peripheral(_ p: CBPeripheral, didDiscoverServices error: Error?) {
        guard let service = p.services?.first(where: { $0.uuid == CBUUID(string: profile.serviceUuid) }) else {
            return link.disconnected()
        }
        p.discoverCharacteristics([CBUUID(string: profile.requestUuid), CBUUID(string: profile.responseUuid)], for: service)
    }

    public func peripheral(_ p: CBPeripheral, didDiscoverCharacteristicsFor service: CBService, error: Error?) {
        request = service.characteristics?.first { $0.uuid == CBUUID(string: profile.requestUuid) }
        guard request != nil, let response = service.characteristics?.first(where: { $0.uuid == CBUUID(string: profile.responseUuid) }) else {
            return link.disconnected()
        }
        p.setNotifyValue(true, for: response)
    }

    public func peripheral(_ p: CBPeripheral, didUpdateNotificationStateFor c: CBCharacteristic, error: Error?) {
        // Subscribed: the door sends its challenge now. ATT MTU = write length + 3.
        if error == nil && c.isNotifying {
            link.connected(mtu: UInt32(p.maximumWriteValueLength(for: .withoutResponse) + 3))
        } else {
            link.disconnected()
        }
    }

    public func peripheral(_ p: CBPeripheral, didUpdateValueFor c: CBCharacteristic, error: Error?) {
        guard let value = c.value else { return }
        do { try link.notification(frame: value) } catch { central.cancelPeripheralConnection(p) }
    }

    public func peripheral(_ p: CBPeripheral, didWriteValueFor c: CBCharacteristic, error: Error?) {
        writeDone?.resume()
        writeDone = nil
    }
}
