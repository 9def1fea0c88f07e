//! Step 7: delete a person. Sam deletes Cleo: she leaves the people list, her activity
//! remains, and once a phone carries the deletion to the Garage her code no longer opens it.

use super::s3_doorcode::Cleo;
use crate::world::{DoorName, Doors, Failure, Resident, World, check, event_text, ops_text};
use keyway_api::client::{ClientConfig, SyncClient};

impl World {
    pub(super) async fn delete_person(&mut self, doors: &Doors, cleo: &Cleo) -> Result<(), Failure> {
        let client = SyncClient::new(ClientConfig::new(self.base.clone()))?;
        let code = client
            .doorcodes(&cleo.token)
            .await?
            .codes
            .first()
            .map(|c| c.code.clone())
            .ok_or_else(|| Failure("Cleo has no code".into()))?;
        let history_before = self.sam.activity(None, Some(cleo.person)).await?;
        check!(!history_before.is_empty(), "Cleo's keypad entry should have reached Mission Control through a phone");
        let deleted = self.sam.delete_person(cleo.person).await?;
        self.say(format!(
            "Sam deletes Cleo: {} door update(s) queued ({}).",
            deleted.updates.len(),
            deleted.updates.iter().map(|u| ops_text(&u.ops)).collect::<Vec<_>>().join("; ")
        ));
        let all = self.sam.people(true).await?;
        check!(all.iter().all(|p| p.person_id != cleo.person), "Cleo is still in the people list");
        let history = self.sam.activity(None, Some(cleo.person)).await?;
        check!(history.len() == history_before.len(), "Cleo's activity changed with her deletion");
        self.say(format!("   She is gone from the people list (even with expired users shown); her {} activity record(s) remain, e.g. \"{}\" at the {}.",
            history.len(),
            history.first().map(|h| event_text(&h.event)).unwrap_or_default(),
            history.first().map(|h| h.door_name.clone()).unwrap_or_default()));
        self.sync(Resident::Bob).await?;
        let u = self.unlock(doors, Resident::Bob, DoorName::Garage, 247)?;
        check!(u.report.granted && u.report.updates_carried, "Bob should carry the deletion: {:?}", u.report);
        let e = doors.garage.keypad(&code)?;
        check!(!e.granted, "Cleo's code still opens the Garage");
        self.say(format!(
            "   Cleo's code {code} at the Garage keypad: refused ({}).",
            e.denial.as_deref().unwrap_or("?")
        ));
        Ok(())
    }
}
