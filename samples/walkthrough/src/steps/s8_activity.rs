//! Step 8: activity from the offline doors. The phones' uploads bring every record the
//! offline doors logged to Mission Control, and the door processes' own session logs agree
//! with what the phones saw.

use crate::world::{DoorName, Doors, Failure, Resident, World, check, event_text};
use keyway_protocol::credential::{ActivityEvent, DenialReason};
use std::time::Duration;

impl World {
    pub(super) async fn activity(&mut self, doors: &Doors) -> Result<(), Failure> {
        self.upload(Resident::Ann).await?;
        for door in [DoorName::Garage, DoorName::BikeRoom] {
            let u = self.unlock(doors, Resident::Bob, door, 247)?;
            check!(u.report.granted, "Bob should open the {}", door.name());
        }
        self.upload(Resident::Bob).await?;
        for door in [DoorName::Garage, DoorName::BikeRoom] {
            let name = door.name();
            let d = doors.get(door);
            let (id, st) = (d.id(), d.status()?);
            let entries = self.sam.activity(Some(id), None).await?;
            let mut seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
            seqs.sort();
            check!(
                seqs == (1..=st.activity_head).collect::<Vec<_>>(),
                "{name}: Mission Control holds activity {seqs:?}, the door logged 1..={}",
                st.activity_head
            );
            let info = self
                .sam
                .doors()
                .await?
                .into_iter()
                .find(|d| d.door_id == id)
                .ok_or_else(|| Failure("door missing".into()))?;
            check!(
                info.activity_head == st.activity_head && info.delivered_seq == st.update_seq,
                "{name}: Mission Control's view {info:?} differs from the door's {st:?}"
            );
            self.say(format!("{name}: all {} records the offline door logged reached Mission Control through phones; every update up to seq {} delivered.", st.activity_head, st.update_seq));
            let mut sorted = entries.clone();
            sorted.sort_by_key(|e| e.seq);
            for e in &sorted {
                self.say(format!(
                    "   #{:<3} {}  {:<6} {}",
                    e.seq,
                    e.time,
                    e.who.as_deref().or(e.person_name.as_deref()).unwrap_or("-"),
                    event_text(&e.event)
                ));
            }
        }
        // The door processes' own accounts agree with what the phones saw.
        for door in DoorName::ALL {
            let name = door.name();
            let seen: Vec<bool> = self.report.unlocks.iter().filter(|u| u.door == name).map(|u| u.granted).collect();
            let mut told = Vec::new();
            for _ in 0..40 {
                told = doors.get(door).sessions().iter().map(|l| l.granted == Some(true)).collect();
                if told.len() >= seen.len() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            check!(told == seen, "{name}: the door logged sessions {told:?}, the phones saw {seen:?}");
        }
        self.say("The door processes' own session logs match every decision the phones reported.");
        let entries = self.sam.activity(Some(doors.garage.id()), None).await?;
        let has = |f: &dyn Fn(&ActivityEvent) -> bool| entries.iter().any(|e| f(&e.event));
        check!(has(&|e| matches!(e, ActivityEvent::AppUnlock { guest: true, .. })), "the guest's unlock is missing");
        check!(
            has(&|e| matches!(e, ActivityEvent::AppDenied { reason: DenialReason::GuestScopeWider, .. })),
            "the wider guest key's refusal is missing"
        );
        // Refusals that name no one fold into one record while no receipt has carried it.
        check!(
            has(&|e| matches!(
                e,
                ActivityEvent::AppDenied { reason: DenialReason::RevokedKey, .. }
                    | ActivityEvent::DeniedRepeatedly { reason: DenialReason::RevokedKey, .. }
            )),
            "the revoked keys' refusals are missing"
        );
        check!(has(&|e| matches!(e, ActivityEvent::DoorcodeEntry { .. })), "the doorcode entry is missing");
        Ok(())
    }
}
