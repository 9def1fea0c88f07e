//! The article's steps, one file each, in the order the article tells them. A step that
//! produces something a later step needs returns it, and [`tell`] hands it on: the doors from
//! step 1, Ann and Bob from step 2, Cleo from step 3.

mod s10_lost_phone;
mod s1_property;
mod s2_invite;
mod s3_doorcode;
mod s4_guest_key;
mod s5_edit;
mod s6_revoke_all;
mod s7_delete;
mod s8_activity;
mod s9_door_clock;

use crate::report::{StepReport, UpdateRow};
use crate::world::{DoorName, Doors, Failure, World, check};
use keyway_api::TaskState;

/// Tells the story, step by step, and stops at the first step that fails (the later ones
/// build on it); then collects the door-update tasks for the summary. `Some` if everything
/// passed. The doors stop when this returns.
pub(crate) async fn tell(w: &mut World) -> Option<()> {
    let doors = w.step(1, "A property, its doors and its managers", async |w| w.property().await).await?;
    let residents =
        w.step(2, "Invite a resident with a future start", async |w| w.invite_residents(&doors).await).await?;
    let cleo = w.step(3, "A daily doorcode reaches every door", async |w| w.daily_doorcode(&doors).await).await?;
    w.step(4, "The resident shares a guest key", async |w| w.share_guest_key(&doors, &residents).await).await?;
    w.step(5, "Edit: an earlier expiration reaches the offline door", async |w| {
        w.earlier_expiry(&doors, &residents).await
    })
    .await?;
    w.step(6, "Revoke All Keys", async |w| w.revoke_all_keys(&doors, &residents).await).await?;
    w.step(7, "Delete a person", async |w| w.delete_person(&doors, &cleo).await).await?;
    w.step(8, "Activity from the offline doors", async |w| w.activity(&doors).await).await?;
    w.step(9, "A door whose clock runs slow", async |w| w.door_clock(&doors, &residents).await).await?;
    w.step(10, "A lost phone", async |w| w.lost_phone(&doors, &residents).await).await?;
    if let Err(f) = w.collect_updates(&doors).await {
        w.report.steps.push(StepReport {
            number: 11,
            title: "collect the door-update tasks".into(),
            failure: Some(f.0),
            ..Default::default()
        });
        return None;
    }
    Some(())
}

impl World {
    /// The door-update tasks of the offline doors, for the summary.
    async fn collect_updates(&mut self, doors: &Doors) -> Result<(), Failure> {
        for name in [DoorName::Garage, DoorName::BikeRoom] {
            let id = doors.get(name).id();
            for t in self.sam.door_updates(Some(id), None).await? {
                self.report.updates.push(UpdateRow {
                    door: name.name().into(),
                    seq: t.seq,
                    ops: crate::world::ops_text(&t.ops),
                    delivered: t.state == TaskState::Delivered,
                    receipt_door_time: t.receipt_door_time.map(|x| x.to_string()),
                });
            }
        }
        check!(self.report.updates.iter().all(|u| u.delivered), "some door updates were never delivered");
        Ok(())
    }
}
