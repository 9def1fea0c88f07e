//! Unlocking a door over any [`Link`]: choose the key, run the phone side of the protocol,
//! hand over pending updates, keep the receipt for upload.

use super::key_state::pick_key;
use super::{Result, Wallet, WalletError};
use keyway_link::{Link, run_unlock};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DenialReason, DoorCertificate, DoorId, KeyChain, KeyId, TrustAnchors};
use keyway_protocol::unlock::{PhoneSession, UnlockOutcome, UnlockParams};
use std::time::Duration;

/// How long an unlock may take from the subscription to the door's result.
pub const UNLOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// What an unlock did, from the door's verified receipt: the one shape from the wallet to the
/// app (the bindings expose this type itself, not a copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnlockReport {
    /// The door that was unlocked (or refused).
    pub door_id: DoorId,
    /// The door's name as the property calls it.
    pub door_name: String,
    /// The key the wallet presented.
    pub key_id: KeyId,
    /// Whether that key is a guest key.
    pub is_guest: bool,
    /// Whether the door opened.
    pub granted: bool,
    /// Why the door refused, when it did.
    pub denial: Option<DenialReason>,
    /// The door's update seq before and after this session.
    pub seq_before: u64,
    pub seq_after: u64,
    /// Whether pending updates were handed over.
    pub updates_carried: bool,
    /// Whether the wallet's signed time went along (the door's clock was behind it).
    pub time_carried: bool,
    /// Activity records the door sent back (queued for upload with the receipt).
    pub activity_records: u32,
}

/// Whose trust an unlock runs under.
pub(crate) enum Scope {
    /// The property's anchors and door certificate: pending updates go along and the receipt
    /// is uploaded.
    Property,
    /// A guest-key offer's own anchors and door certificate: nothing of the property's goes
    /// along (no pending updates, no activity asked for) and the receipt stays on the device.
    Offer,
}

/// The key to present and what to check the door against.
pub(crate) struct DoorContext {
    pub(crate) scope: Scope,
    chain: KeyChain,
    pub(crate) door_name: String,
    door_cert: DoorCertificate,
    anchors: TrustAnchors,
}

/// How an unlock runs. `Default` is what [`Wallet::unlock`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnlockOptions {
    /// Bound on the whole exchange, from the subscription to the door's result.
    pub timeout: Duration,
}

impl Default for UnlockOptions {
    fn default() -> Self {
        UnlockOptions { timeout: UNLOCK_TIMEOUT }
    }
}

/// An unlock ready to run: the key, the door's trust and the session are chosen, and nothing
/// of the wallet is needed until its result is recorded ([`Wallet::record_unlock`]). This is
/// what lets the exchange with the door run without holding the wallet.
pub struct PreparedUnlock {
    pub(crate) session: PhoneSession,
    pub(crate) timeout: Duration,
    pub(crate) attempt: Attempt,
}

/// What an unlock presents, kept for its report.
pub(crate) struct Attempt {
    door: DoorId,
    scope: Scope,
    pub(crate) chain: KeyChain,
    door_name: String,
    epoch: u64,
}

/// The door's verified answer to a [`PreparedUnlock`], not recorded yet.
pub struct FinishedUnlock {
    pub(crate) attempt: Attempt,
    pub(crate) outcome: UnlockOutcome,
}

impl PreparedUnlock {
    /// The exchange with the door over `link` (already connected to it), bounded by the
    /// prepared timeout. Needs no wallet.
    pub fn exchange(self, link: &mut dyn Link) -> Result<FinishedUnlock> {
        let outcome = run_unlock(link, self.session, self.timeout)?;
        Ok(FinishedUnlock { attempt: self.attempt, outcome })
    }
}

impl Wallet {
    /// Unlocks `door` over `link` (already connected to it) with the best key this wallet
    /// holds, offline if need be. Delivered updates are dropped only when the door's signed
    /// receipt shows them applied; a failed session changes nothing here.
    pub fn unlock(&mut self, door: DoorId, link: &mut dyn Link) -> Result<UnlockReport> {
        self.unlock_with(door, link, UnlockOptions::default())
    }

    /// [`Wallet::unlock`] with explicit options.
    pub fn unlock_with(&mut self, door: DoorId, link: &mut dyn Link, options: UnlockOptions) -> Result<UnlockReport> {
        let finished = self.prepare_unlock(door, options)?.exchange(link)?;
        self.record_unlock(finished)
    }

    /// Chooses the key and the trust for `door` and builds the session (step 1 of 3: prepare,
    /// [`PreparedUnlock::exchange`], [`Wallet::record_unlock`]).
    pub fn prepare_unlock(&self, door: DoorId, options: UnlockOptions) -> Result<PreparedUnlock> {
        let now = self.now()?;
        let ctx = self.door_context(door, now)?;
        // An offer's key belongs to another property, whose doors would not take this one's
        // pending updates or signed time.
        let (batch, activity_after, time) = match ctx.scope {
            Scope::Property => (
                self.store.pending(door)?.map(|p| p.batch),
                self.store.activity_after(door)?,
                self.store.time_statement()?,
            ),
            Scope::Offer => (None, u64::MAX, None),
        };
        let mut nonce = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let session = PhoneSession::new(UnlockParams {
            chain: ctx.chain.clone(),
            device_key: self.device.clone(),
            door_cert: ctx.door_cert,
            anchors: ctx.anchors,
            batch,
            activity_after,
            time,
            nonce,
            now,
        })?;
        Ok(PreparedUnlock {
            session,
            timeout: options.timeout,
            attempt: Attempt { door, scope: ctx.scope, chain: ctx.chain, door_name: ctx.door_name, epoch: self.epoch },
        })
    }

    /// Stores the door's receipt (step 3). Refused with [`WalletError::Reset`] when the wallet
    /// was reset since the unlock was prepared: a signed-out wallet keeps nothing of it.
    pub fn record_unlock(&mut self, finished: FinishedUnlock) -> Result<UnlockReport> {
        let FinishedUnlock { attempt: ctx, outcome } = finished;
        if ctx.epoch != self.epoch {
            return Err(WalletError::Reset);
        }
        match ctx.scope {
            Scope::Property => self.store.record_receipt(&outcome.receipt, keyway_api::clock::now())?,
            Scope::Offer => self.store.record_offer_receipt(&outcome.receipt, keyway_api::clock::now())?,
        }
        Ok(UnlockReport {
            door_id: ctx.door,
            door_name: ctx.door_name,
            key_id: ctx.chain.leaf_key_id(),
            is_guest: ctx.chain.guest_link().is_some(),
            granted: outcome.granted,
            denial: outcome.denial,
            seq_before: outcome.updates.seq_before,
            seq_after: outcome.updates.seq_after,
            updates_carried: outcome.batch_carried,
            time_carried: outcome.time_carried,
            activity_records: u32::try_from(outcome.receipt.body.activity.len()).unwrap_or(u32::MAX),
        })
    }

    /// Chooses the key and the trust for `door`. The property's door certificate comes first,
    /// with the property's keys and any offered key that verifies under the property's own
    /// anchors; only when none of those opens the door is an offered key tried, against its own
    /// offer's certificate for that door id.
    pub(crate) fn door_context(&self, door: DoorId, now: UnixTime) -> Result<DoorContext> {
        let keys = self.store.usable_keys(now)?;
        let property_cert = self.store.door_cert(door)?;
        if let Some((door_name, door_cert)) = &property_cert {
            let anchors = self.store.anchors()?;
            let ours = keys.iter().filter(|k| !k.offered || k.chain.verify_structure(&anchors).is_ok());
            if let Some(chain) = pick_key(ours.map(|k| (&k.chain, k.revoked)), door, now) {
                return Ok(DoorContext {
                    scope: Scope::Property,
                    chain: chain.clone(),
                    door_name: door_name.clone(),
                    door_cert: door_cert.clone(),
                    anchors,
                });
            }
        }
        let offers = self.store.offers()?;
        let offered_door = offers.iter().any(|(offer, _)| offer.door_cert(door).is_some());
        let usable: Vec<_> = offers
            .iter()
            .filter_map(|(offer, _)| {
                let held = keys.iter().find(|k| k.offered && k.chain == offer.chain)?;
                Some((offer, offer.door_cert(door)?, held.revoked))
            })
            .collect();
        // A door is known from any offer that certifies it, usable now or not: an upcoming
        // guest key's door is "no key opens it yet", not "unknown".
        if property_cert.is_none() && !offered_door {
            return Err(WalletError::UnknownDoor(door));
        }
        let chain = pick_key(usable.iter().map(|(o, _, revoked)| (&o.chain, *revoked)), door, now)
            .ok_or(WalletError::NoKeyForDoor(door))?;
        let (offer, cert, _) =
            usable.iter().find(|(o, _, _)| o.chain == *chain).ok_or(WalletError::NoKeyForDoor(door))?;
        Ok(DoorContext {
            scope: Scope::Offer,
            chain: chain.clone(),
            door_name: door.to_string(),
            door_cert: (*cert).clone(),
            anchors: offer.anchors(),
        })
    }
}
