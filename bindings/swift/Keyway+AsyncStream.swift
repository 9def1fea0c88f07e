// Shipped with the generated KeywayCore.swift (compile both into the same module): the
// wallet's listener subscriptions as AsyncStreams. Iterating subscribes; ending the iteration
// (or cancelling its Task) cancels the subscription.
// Not compiled here (there is no Swift toolchain on Linux CI); a binding test checks that
// every call it makes exists in the generated KeywayCore.swift with these signatures.

import Foundation

private final class KeyStreamListener: KeyListener, @unchecked Sendable {
    let continuation: AsyncStream<KeyUpdate>.Continuation
    init(_ continuation: AsyncStream<KeyUpdate>.Continuation) { self.continuation = continuation }
    func onUpdate(update: KeyUpdate) { continuation.yield(update) }
}

private final class UnlockStreamListener: UnlockListener, @unchecked Sendable {
    let continuation: AsyncStream<UnlockEvent>.Continuation
    init(_ continuation: AsyncStream<UnlockEvent>.Continuation) { self.continuation = continuation }
    func onEvent(event: UnlockEvent) { continuation.yield(event) }
}

extension Wallet {
    /// Every KeyUpdate: first the keys as they stand, then one per change.
    public func keyUpdates() throws -> AsyncStream<KeyUpdate> {
        let (stream, continuation) = AsyncStream.makeStream(of: KeyUpdate.self, bufferingPolicy: .unbounded)
        let subscription = try subscribeKeys(listener: KeyStreamListener(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// The keys alone, as they change.
    public func keysStream() throws -> AsyncStream<[KeyInfo]> {
        let updates = try keyUpdates()
        return AsyncStream { continuation in
            let task = Task {
                for await update in updates { continuation.yield(update.keys) }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Each unlock's progress, from .connecting to .receiptStored, .failed or .cancelled.
    public func unlockEvents() -> AsyncStream<UnlockEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: UnlockEvent.self, bufferingPolicy: .unbounded)
        let subscription = subscribeUnlockEvents(listener: UnlockStreamListener(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}
