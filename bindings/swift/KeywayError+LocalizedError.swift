// Shipped with the generated KeywayCore.swift (compile both into the same module): makes the
// message every KeywayError carries ("no active key opens door 7") its localizedDescription.
// uniffi.toml sets `omit_localized_error_conformance` so that this conformance is the only one.
// Not compiled here (there is no Swift toolchain on Linux CI); a case added to KeywayError
// without a line below fails the app's build, which is the point of listing them.

import Foundation

extension KeywayError: LocalizedError {
    public var errorDescription: String? {
        switch self {
        case .Storage(let message): return message
        case .SecureStorage(let message): return message
        case .InvalidInput(let message): return message
        case .InvalidPayload(let message): return message
        case .NotPermitted(let message): return message
        case .NoKeyForDoor(let message): return message
        case .UnknownDoor(let message): return message
        case .UnknownKey(let message): return message
        case .NotEnrolled(let message): return message
        case .Network(let message): return message
        case .Server(let message): return message
        case .Unauthorized(let message): return message
        case .Rejected(let message): return message
        case .BackendNotTrusted(let message): return message
        case .UnlockInProgress(let message): return message
        case .LinkTimeout(let message): return message
        case .LinkDisconnected(let message): return message
        case .Link(let message): return message
        case .DoorNotTrusted(let message): return message
        case .WrongDoor(let message): return message
        case .DoorExchange(let message): return message
        case .Internal(let message): return message
        }
    }
}
