//! Delivery sessions: handing a door the updates this wallet carries for it without unlocking
//! it — a phone walking past the bike room on its way to the garage brings the bike room its
//! pending revocations. The same one-round-trip exchange as an unlock (the door's signed
//! challenge, the request, the batch, the door's signed receipt), with the request sent as a
//! delivery: the door does not open or log anything, applies the batch only for a holder it
//! would admit, and returns its receipt (and its activity) only to one. The receipt is kept for
//! upload like an unlock's, so Mission Control sees the updates delivered.
//!
//! The app decides when (a background scan result, the foreground): [`Wallet::pending_deliveries`]
//! says which doors the wallet carries updates for, most behind first. An unlock never waits for
//! a delivery: the app runs deliveries only while no unlock is under way, and cancels one (its
//! exchange ends within the link's cancellation) when the resident taps a door.

use super::unlock::{Candidates, FinishedUnlock, Scope, UNLOCK_TIMEOUT, run_candidates};
use super::{Result, Wallet, WalletError};
use crate::store::Property;
use keyway_link::Link;
use keyway_protocol::credential::{DenialReason, DoorId};
use keyway_protocol::unlock::PhoneSession;

/// A delivery ready to run; nothing of the wallet is needed until it is recorded.
pub struct PreparedDelivery {
    candidates: Candidates,
}

/// The door's verified answer to a [`PreparedDelivery`], not recorded yet.
pub struct FinishedDelivery(FinishedUnlock);

impl PreparedDelivery {
    /// The exchange with the door over `link` (already connected to it). Needs no wallet.
    pub fn exchange(self, link: &mut dyn Link) -> Result<FinishedDelivery> {
        run_candidates(link, self.candidates, UNLOCK_TIMEOUT, &mut |_, _| {}).map(FinishedDelivery)
    }
}

/// What a delivery session did, from the door's verified receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryReport {
    pub door_id: DoorId,
    pub door_name: String,
    /// The property whose door it is.
    pub property: Property,
    /// Whether the door admitted the holder (it applied the batch and sent its activity).
    pub admitted: bool,
    /// Why it did not, when it did not.
    pub denial: Option<DenialReason>,
    /// The door's update seq before and after the session.
    pub seq_before: u64,
    pub seq_after: u64,
    /// Whether the door applied updates in this session.
    pub updates_applied: bool,
    /// Activity records the door sent back (queued for upload with the receipt).
    pub activity_records: u32,
}

impl Wallet {
    /// The doors this wallet carries updates for, the door with the most updates outstanding
    /// first (a door's updates are numbered in order, so the one furthest behind holds the
    /// oldest). A door appears once, under the first property that has updates for it.
    pub fn pending_deliveries(&self) -> Result<Vec<DoorId>> {
        let mut doors = Vec::new();
        for pending in self.store.all_pending()? {
            let applied = self.store.door_applied_seq_of(pending.property, pending.door_id)?;
            let body = &pending.batch.body;
            let outstanding = body.last_seq().saturating_sub(applied.max(body.first_seq.saturating_sub(1)));
            if outstanding > 0 {
                doors.push((outstanding, pending.door_id));
            }
        }
        doors.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        doors.dedup_by_key(|d| d.1);
        Ok(doors.into_iter().map(|(_, d)| d).collect())
    }

    /// A delivery session with `door` over `link` (already connected to it): the pending
    /// updates of every property that knows the door id go to the one whose certified door key
    /// signs the challenge. `NothingToDeliver` when the wallet carries nothing for the door, so
    /// the app never connects for nothing; the key presented is the one an unlock would use
    /// (the door admits only a holder it would let in).
    pub fn deliver(&mut self, door: DoorId, link: &mut dyn Link) -> Result<DeliveryReport> {
        let finished = self.prepare_delivery(door)?.exchange(link)?;
        self.record_delivery(finished)
    }

    /// Chooses the key, the trust and the pending updates for `door` and builds the sessions
    /// (step 1 of 3: prepare, [`PreparedDelivery::exchange`], [`Wallet::record_delivery`]).
    pub fn prepare_delivery(&self, door: DoorId) -> Result<PreparedDelivery> {
        let now = self.now()?;
        let mut live = Vec::new();
        for ctx in self.door_contexts(door, now)? {
            let Scope::Property(p) = ctx.scope else { continue };
            let Some(pending) = self.store.pending_of(p, door)? else { continue };
            let (activity_after, time) = (self.store.activity_after_of(p, door)?, self.store.time_statement_of(p)?);
            let (attempt, params) = self.session_for(door, ctx, Some(pending.batch), activity_after, time, now);
            live.push((attempt, PhoneSession::deliver(params)?));
        }
        if live.is_empty() {
            return Err(WalletError::NothingToDeliver(door));
        }
        Ok(PreparedDelivery { candidates: Candidates::new(live) })
    }

    /// Stores the door's receipt of a delivery (step 3), for upload.
    pub fn record_delivery(&mut self, finished: FinishedDelivery) -> Result<DeliveryReport> {
        let FinishedUnlock { attempt, outcome } = finished.0;
        if attempt.epoch != self.epoch {
            return Err(WalletError::Reset);
        }
        let Scope::Property(p) = attempt.scope else { return Err(WalletError::NothingToDeliver(attempt.door)) };
        let property = self.property(p)?;
        if let Some(receipt) = &outcome.receipt {
            self.store.record_receipt_in(p, receipt, keyway_api::clock::now())?;
        }
        self.keep_ticket(&attempt, &outcome)?;
        Ok(DeliveryReport {
            door_id: attempt.door,
            door_name: attempt.door_name,
            property,
            admitted: outcome.granted,
            denial: outcome.denial,
            seq_before: outcome.updates.seq_before,
            seq_after: outcome.updates.seq_after,
            updates_applied: outcome.updates.seq_after > outcome.updates.seq_before,
            activity_records: crate::unlock::activity_records(&outcome),
        })
    }
}
