//! Step 6: Revoke All Keys. Sam ends Ann's access while her phone is offline. The
//! internet-connected Lobby hears it through its door feed at once and refuses Ann without any
//! phone having visited it; its own receipt marks the task delivered. Bob's next unlock carries
//! the revocation to the offline Garage, which then refuses Ann and her guest Gus.

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
        self.lobby_hears_it(doors, &revoked).await?;
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

impl World {
    /// The Lobby applies the revocation from its feed and refuses Ann; its own receipt makes the
    /// task read delivered.
    async fn lobby_hears_it(&mut self, doors: &Doors, revoked: &keyway_api::RevocationResponse) -> Result<(), Failure> {
        let lobby = doors.lobby.id();
        let seq = revoked
            .updates
            .iter()
            .filter(|u| u.door_id == lobby)
            .map(|u| u.seq)
            .max()
            .ok_or_else(|| Failure("no update for the Lobby".into()))?;
        let started = std::time::Instant::now();
        doors.lobby.wait_for(|st| st.update_seq >= seq)?;
        let applied_in = started.elapsed();
        let u = self.unlock(doors, Resident::Ann, DoorName::Lobby, 247)?;
        check!(
            !u.report.granted && u.report.denial == Some(DenialReason::RevokedKey),
            "the Lobby should refuse Ann once its feed brought the revocation: {:?}",
            u.report
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let task = loop {
            let tasks = self.sam.door_updates(Some(lobby), None).await?;
            match tasks.into_iter().find(|t| t.seq == seq) {
                Some(t) if t.state == TaskState::Delivered => break t,
                other if std::time::Instant::now() > deadline => {
                    return Err(Failure(format!("the Lobby's task was not delivered by its own receipt: {other:?}")));
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        self.say(format!(
            "   The Lobby, internet-connected, applied it through its door feed {} ms after the click and refused Ann ({:?}) with no phone involved; its own receipt marked the task delivered at {}.",
            applied_in.as_millis(),
            u.report.denial.unwrap_or(DenialReason::RevokedKey),
            task.delivered_at.map(|t| t.to_string()).unwrap_or_default()
        ));
        Ok(())
    }
}
