//! Step 10: a lost phone. Bob's phone is lost; Sam gives Bob a one-time device code, Bob signs
//! in on a new phone (proving its own device key) and opens the Garage with it, then Sam
//! removes the lost phone. The Lobby hears it over its door feed at once; Bob's new phone
//! carries it to the offline Garage with its next unlock; after that the lost phone is refused
//! at both, while Bob's new phone keeps opening.

use super::s2_invite::Residents;
use crate::phones::Phone;
use crate::world::{DoorName, Doors, Failure, Resident, World, check};
use keyway_protocol::credential::{DenialReason, DoorOp};
use std::time::Duration;

impl World {
    pub(super) async fn lost_phone(&mut self, doors: &Doors, residents: &Residents) -> Result<(), Failure> {
        let code = self.sam.device_code(residents.bob).await?;
        let mut new = Phone::open(Resident::BobsNewPhone.name(), &self.dir.join("phones/bob-new"))?;
        new.wallet.accept_invite(&self.base, &code.code).await?;
        self.give_phone(Resident::BobsNewPhone, new);
        self.say(format!(
            "Bob has lost his phone. Sam gives him a one-time device code (valid until {}); Bob signs in on a new phone, which proves its own device key and gets its own certificates.",
            code.expires_at
        ));
        let u = self.unlock(doors, Resident::BobsNewPhone, DoorName::Garage, 247)?;
        check!(u.report.granted, "Bob's new phone should open the Garage: {:?}", u.report);

        let devices = self.sam.devices(residents.bob).await?;
        let lost = devices.first().ok_or_else(|| Failure("Bob has no devices".into()))?.clone();
        let removed = self.sam.remove_device(residents.bob, lost.device_id).await?;
        check!(
            removed
                .updates
                .iter()
                .all(|u| matches!(u.ops.as_slice(), [DoorOp::RevokeDevice { device, .. }] if *device == lost.device)),
            "the removal should queue RevokeDevice only: {:?}",
            removed.updates
        );
        self.say(format!(
            "   Sam removes the lost phone ({}): its token stops working at once, and RevokeDevice is queued for {} door(s), the Lobby's feed bringing it at once.",
            lost.device,
            removed.updates.len()
        ));
        let refused = self.sync(Resident::Bob).await;
        check!(refused.is_err(), "the lost phone's sync should be refused");
        self.say("   The lost phone's next sync is refused: its device token no longer works.");

        // The Lobby, on its feed: the lost phone is refused within seconds, no phone involved.
        let mut at_lobby = None;
        for _ in 0..40 {
            if doors.lobby.status()?.revocations > 0 {
                let r = self.try_unlock(doors, Resident::Bob, DoorName::Lobby, 247)?;
                at_lobby = Some(r.map_err(|e| Failure(e.to_string()))?.report);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let at_lobby = at_lobby.ok_or_else(|| Failure("the Lobby never heard of the removal".into()))?;
        check!(
            at_lobby.denial == Some(DenialReason::RevokedDevice),
            "the Lobby should refuse the lost phone: {at_lobby:?}"
        );

        // The Garage is offline: Bob's new phone carries the removal there.
        self.sync(Resident::BobsNewPhone).await?;
        let u = self.unlock(doors, Resident::BobsNewPhone, DoorName::Garage, 247)?;
        check!(
            u.report.granted && u.report.updates_carried,
            "Bob's new phone should carry the removal: {:?}",
            u.report
        );
        let r = self.try_unlock(doors, Resident::Bob, DoorName::Garage, 247)?.map_err(|e| Failure(e.to_string()))?;
        check!(
            r.report.denial == Some(DenialReason::RevokedDevice),
            "the Garage should refuse the lost phone: {:?}",
            r.report
        );
        self.say("   After Bob's new phone's unlock the Garage refuses the lost phone too (RevokedDevice); the new phone keeps opening.");
        let u = self.unlock(doors, Resident::BobsNewPhone, DoorName::BikeRoom, 247)?;
        check!(u.report.granted && u.report.updates_carried, "the removal should reach the Bike Room: {:?}", u.report);
        self.upload(Resident::BobsNewPhone).await?;
        Ok(())
    }
}
