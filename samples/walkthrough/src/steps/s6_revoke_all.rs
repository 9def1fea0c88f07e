//! Step 6: Revoke All Keys. Sam ends Ann's access while her phone is offline; Bob's next
//! unlock carries the revocation to the Garage, which then refuses Ann and her guest Gus.

use super::s2_invite::Residents;
use crate::world::{DoorName, Doors, Failure, Resident, World, check, ops_text};
use keyway_api::{PersonStatus, TaskState};
use keyway_protocol::credential::DenialReason;

impl World {
    pub(super) async fn revoke_all_keys(&mut self, doors: &Doors, residents: &Residents) -> Result<(), Failure> {
        let garage = doors.garage.id();
        let ann = residents.ann;
        let revoked = self.sam.revoke_all_keys(ann).await?;
        check!(
            revoked.revoked_keys == vec![residents.ann_key],
            "Revoke All Keys should end Ann's key: {:?}",
            revoked.revoked_keys
        );
        let garage_update = revoked
            .updates
            .iter()
            .find(|u| u.door_id == garage)
            .ok_or_else(|| Failure("no update for the Garage".into()))?
            .seq;
        self.say(format!(
            "Sam uses Revoke All Keys for Ann: {} door update(s) queued (Garage seq {garage_update}); Ann's phone is offline and still shows her key.",
            revoked.updates.len()
        ));
        self.sync(Resident::Bob).await?;
        let u = self.unlock(doors, Resident::Bob, DoorName::Garage, 247)?;
        check!(
            u.report.granted && u.report.seq_after == garage_update,
            "Bob's unlock should bring the Garage to seq {garage_update}: {:?}",
            u.report
        );
        let u = self.unlock(doors, Resident::Ann, DoorName::Garage, 247)?;
        check!(
            !u.report.granted && u.report.denial == Some(DenialReason::RevokedKey),
            "the Garage should refuse Ann: {:?}",
            u.report
        );
        let u = self.unlock(doors, Resident::Gus, DoorName::Garage, 247)?;
        check!(
            !u.report.granted && u.report.denial == Some(DenialReason::RevokedKey),
            "the Garage should refuse Gus: {:?}",
            u.report
        );
        self.upload(Resident::Bob).await?;
        let tasks = self.sam.door_updates(Some(garage), None).await?;
        let task = tasks
            .iter()
            .find(|t| t.seq == garage_update)
            .ok_or_else(|| Failure("no task for the revocation".into()))?;
        check!(
            task.state == TaskState::Delivered && task.delivered_at.is_some() && task.receipt_door_time.is_some(),
            "the task should be delivered: {task:?}"
        );
        self.say(format!(
            "   The task \"{}\" at the Garage shows delivered at {} (door clock in the receipt: {}).",
            ops_text(&task.ops),
            task.delivered_at.map(|t| t.to_string()).unwrap_or_default(),
            task.receipt_door_time.map(|t| t.to_string()).unwrap_or_default()
        ));
        let listed = self.sam.people(false).await?;
        check!(listed.iter().all(|p| p.person_id != ann), "Ann should no longer be listed as current");
        let all = self.sam.people(true).await?;
        check!(
            all.iter().any(|p| p.person_id == ann && p.status == PersonStatus::Expired),
            "Ann should be listed with expired users"
        );
        self.say("   Ann is listed only with \"show expired users\"; she can be granted again later.");
        Ok(())
    }
}
