//! Step 9: a door whose clock runs slow. The Gym's lock keeps time ten minutes behind; Sam
//! grants Bob a Gym key that starts now. Presented without signed time, the key is refused for
//! the length of the lag; Bob's phone, which got the authority's signed time at its last sync,
//! sees from the door's challenge that the door is behind and sends the signed time before its
//! request, in the same round trip: the Gym moves its clock forward and opens. Bob's upload
//! brings the Gym's own record of the correction, and Mission Control's door list shows the
//! drift that was corrected.

use super::s2_invite::Residents;
use crate::world::{DAY, DoorName, Doors, Failure, GYM_RTC_LAG_SECS, Resident, World, check};
use keyway_api::KeyGrant;
use keyway_protocol::credential::DenialReason;

impl World {
    pub(super) async fn door_clock(&mut self, doors: &Doors, residents: &Residents) -> Result<(), Failure> {
        let gym = doors.gym.id();
        let now = keyway_api::clock::now();
        let grant = KeyGrant { doors: vec![gym], start: Some(now), expiry: now.saturating_add_secs(30 * DAY).into() };
        let added = self.sam.add_key(residents.bob, &grant).await?;
        let lag_now = doors.gym.status()?.clock;
        self.say(format!(
            "Sam grants Bob a Gym key ({}) starting now, {now}. The Gym's lock clock reads {lag_now}: {} s behind.",
            added.key.key_id,
            now.0.saturating_sub(lag_now.0)
        ));
        self.sync(Resident::Bob).await?;

        // Today's exchange without signed time: refused until the Gym's clock catches up.
        let chain = self
            .phone(Resident::Bob)?
            .wallet
            .store()
            .keys()?
            .into_iter()
            .find(|k| k.chain.leaf_key_id() == added.key.key_id)
            .map(|k| k.chain)
            .ok_or_else(|| Failure("Bob's sync did not bring the Gym key".into()))?;
        let device = self.phone(Resident::Bob)?.device_key()?;
        let plain = self.raw_unlock(doors, Resident::Bob, DoorName::Gym, chain, device)?;
        check!(
            plain.denial == Some(DenialReason::NotYetValid),
            "without signed time the Gym should refuse a key that starts now: {:?}",
            plain.denial
        );
        self.say(
            "   Presented without signed time, the key is refused: NotYetValid (the Gym thinks it has not started).",
        );

        let u = self.unlock(doors, Resident::Bob, DoorName::Gym, 247)?;
        check!(u.report.granted, "the Gym should open once the phone's signed time corrects it: {:?}", u.report);
        check!(u.report.time_carried, "the phone should have sent its signed time to the slow Gym");
        let corrected = doors.gym.status()?.clock;
        check!(
            corrected.0 + 5 >= keyway_api::clock::now().0,
            "the Gym's clock should be right after the unlock, reads {corrected}"
        );
        self.say(format!(
            "   Bob's phone saw in the Gym's challenge that the door is behind its signed time and sent the time first, in the same round trip: the Gym's clock now reads {corrected}."
        ));

        self.upload(Resident::Bob).await?;
        let listed = self.sam.doors().await?;
        let info = listed.iter().find(|d| d.door_id == gym).ok_or_else(|| Failure("the Gym is not listed".into()))?;
        let set =
            info.clock_set.ok_or_else(|| Failure("the door list shows no clock correction for the Gym".into()))?;
        check!(
            set.by_secs >= GYM_RTC_LAG_SECS - 60 && set.by_secs <= GYM_RTC_LAG_SECS + 60,
            "the Gym's correction should be about {GYM_RTC_LAG_SECS} s, is {} s",
            set.by_secs
        );
        self.say(format!(
            "   Sam's door list: the Gym's clock was corrected by +{} s at {} (from the Gym's own signed record).",
            set.by_secs, set.at
        ));
        Ok(())
    }
}
