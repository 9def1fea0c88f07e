//! Step 5: an earlier expiration reaches the offline door. Sam moves Bob's expiration earlier;
//! Mission Control issues a new key and queues the old one's revocation for the offline doors,
//! which Bob's next unlock carries to the Bike Room.

use super::s2_invite::Residents;
use crate::world::{DAY, DoorName, Doors, Failure, Resident, World, check};
use keyway_protocol::credential::{DenialReason, DoorId, DoorOp};

impl World {
    pub(super) async fn earlier_expiry(&mut self, doors: &Doors, residents: &Residents) -> Result<(), Failure> {
        let (lobby, garage, bikes) = (doors.lobby.id(), doors.garage.id(), doors.bikes.id());
        let info = self.sam.person(residents.bob).await?;
        let old = info.keys.first().ok_or_else(|| Failure("Bob has no key".into()))?.clone();
        let old_chain = self
            .phone(Resident::Bob)?
            .wallet
            .store()
            .keys()?
            .into_iter()
            .find(|k| k.chain.leaf_key_id() == old.key_id)
            .map(|k| k.chain)
            .ok_or_else(|| Failure("Bob's phone never held the old key".into()))?;
        // The old certificate opens doors until its freshness runs out (the revalidation
        // window), so that is how long the doors must keep its revocation.
        let old_fresh = old_chain.root().body.fresh_until;
        let earlier = keyway_api::clock::now().saturating_add_secs(20 * DAY);
        let changed = self.sam.change_expiry(old.key_id, earlier).await?;
        check!(
            changed.key.key_id != old.key_id && changed.key.validity.expiry == earlier,
            "an earlier expiry should issue a new key: {:?}",
            changed.key
        );
        let mut hit: Vec<DoorId> = changed.updates.iter().map(|u| u.door_id).collect();
        hit.sort();
        check!(
            hit == vec![lobby, garage, bikes],
            "the edit should queue updates for Bob's three doors, queued {hit:?}"
        );
        check!(
            changed.updates.iter().all(|u| u.ops == vec![DoorOp::RevokeKey { key: old.key_id, until: old_fresh }]),
            "unexpected updates {:?}",
            changed.updates
        );
        self.say(format!(
            "Sam moves Bob's expiration from {} to {earlier}. A phone's certificate cannot be shortened, so Mission Control issues key {} and queues RevokeKey({}, until {old_fresh}: the old certificate's freshness, the 7-day revalidation window) for the Lobby (which its door feed brings at once), the Garage and the Bike Room.",
            old.validity.expiry, changed.key.key_id, old.key_id
        ));
        let s = self.sync(Resident::Bob).await?;
        check!(
            s.keys_received >= 1 && s.keys_revoked >= 1,
            "Bob's sync should bring the new key and revoke the old: {s:?}"
        );
        let before = doors.bikes.status()?;
        let u = self.unlock(doors, Resident::Bob, DoorName::BikeRoom, 247)?;
        check!(
            u.report.granted && u.report.key_id == changed.key.key_id,
            "Bob should open with his new key: {:?}",
            u.report
        );
        check!(u.report.seq_after == before.update_seq + 1, "the edit did not reach the Bike Room: {:?}", u.report);
        let after = doors.bikes.status()?;
        check!(after.revocations == before.revocations + 1, "the Bike Room holds no new revocation: {after:?}");
        self.say(format!(
            "   The Bike Room now holds {} revocation(s), update seq {}.",
            after.revocations, after.update_seq
        ));
        let device = self.phone(Resident::Bob)?.device_key()?;
        let outcome = self.raw_unlock(doors, Resident::Bob, DoorName::BikeRoom, old_chain, device)?;
        check!(
            !outcome.granted && outcome.denial == Some(DenialReason::RevokedKey),
            "the old certificate should be refused: {:?}",
            outcome.denial
        );
        self.say("   Presented anyway, Bob's old certificate (with the old expiration) is refused by the Bike Room: RevokedKey.");
        Ok(())
    }
}
