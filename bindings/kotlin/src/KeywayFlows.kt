// Shipped with the generated io.keyway.core bindings (compile both into the same module):
// the wallet's listener subscriptions as Kotlin Flows. Collecting subscribes; cancelling the
// collector cancels the subscription. Compiled and tested with the bindings (kotlinx-coroutines).
package io.keyway.core

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.map

/**
 * Every [KeyUpdate]: first the keys as they stand (with a sync need, if any), then one per
 * change (a key added, revoked, replaced, started, expired or expiring; a sync done or needed).
 * Unbounded buffer: a slow collector misses nothing.
 */
fun Wallet.keyUpdates(): Flow<KeyUpdate> = callbackFlow {
    val subscription = subscribeKeys(object : KeyListener {
        override fun onUpdate(update: KeyUpdate) {
            trySend(update)
        }
    })
    awaitClose {
        subscription.cancel()
        subscription.close()
    }
}.buffer(Channel.UNLIMITED)

/** The keys alone, as they change (a credentials list for the UI, like a StateFlow's values). */
fun Wallet.keysFlow(): Flow<List<KeyInfo>> = keyUpdates().map { it.keys }

/** Each unlock's progress, from `Connecting` to `ReceiptStored` (a grant), `Denied` (no receipt for a refusal), `Failed` or `Cancelled`. */
fun Wallet.unlockEvents(): Flow<UnlockEvent> = callbackFlow {
    val subscription = subscribeUnlockEvents(object : UnlockListener {
        override fun onEvent(event: UnlockEvent) {
            trySend(event)
        }
    })
    awaitClose {
        subscription.cancel()
        subscription.close()
    }
}.buffer(Channel.UNLIMITED)
