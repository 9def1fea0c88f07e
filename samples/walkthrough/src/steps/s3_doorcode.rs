//! Step 3: a daily doorcode reaches every door. Sam invites Cleo, a cleaner, with a daily
//! doorcode for the Garage and the Lobby; the internet-connected Lobby learns her slot through
//! its door feed at once, the offline Garage from the next phone that opens it.

use crate::world::{DAY, DoorName, Doors, Failure, Resident, World, check};
use keyway_api::client::{ClientConfig, SyncClient};
use keyway_api::{AccessKind, InviteRequest, KeyGrant, TaskState};
use keyway_protocol::credential::{DoorOp, DoorcodeSecret, PersonId};

/// Cleo, as step 7 needs her: whom to delete, and the welcome link that shows her codes.
pub(crate) struct Cleo {
    pub(crate) person: PersonId,
    pub(crate) token: String,
    pub(crate) lobby_code: String,
}

impl World {
    pub(super) async fn daily_doorcode(&mut self, doors: &Doors) -> Result<Cleo, Failure> {
        let (garage, lobby) = (doors.garage.id(), doors.lobby.id());
        let expiry = keyway_api::clock::now().saturating_add_secs(10 * DAY);
        let invited = self
            .sam
            .invite(&InviteRequest {
                name: "Cleo".into(),
                contact: "+1 555 0100".into(),
                access: AccessKind::DailyDoorcode,
                keys: vec![KeyGrant { doors: vec![garage, lobby], start: None, expiry: expiry.into() }],
                resident: false,
                may_share: false,
            })
            .await?;
        let slot_at = |door| match invited.updates.iter().find(|u| u.door_id == door).map(|u| u.ops.as_slice()) {
            Some([DoorOp::AddDoorcode { slot, person, .. }]) if *person == invited.person.person_id => Ok(*slot),
            other => Err(Failure(format!("expected one AddDoorcode for {door}, got {other:?}"))),
        };
        let (slot, lobby_slot) = (slot_at(garage)?, slot_at(lobby)?);
        self.say(format!("Sam invites Cleo (cleaner) with a daily doorcode for the Garage and the Lobby until {expiry}; Mission Control queues AddDoorcode(slot {slot}) for the offline Garage and AddDoorcode(slot {lobby_slot}) for the Lobby."));
        let token = self
            .sam
            .outbox()
            .await?
            .into_iter()
            .find(|m| m.message_id == invited.welcome_message_id)
            .map(|m| m.token)
            .ok_or_else(|| Failure("no welcome for Cleo".into()))?;
        let client = SyncClient::new(ClientConfig::new(self.base.clone()))?;
        let codes = client.doorcodes(&token).await?;
        let today = codes
            .codes
            .iter()
            .find(|c| c.door_id == garage)
            .map(|c| c.code.clone())
            .ok_or_else(|| Failure("no code for the Garage".into()))?;
        self.say(format!("   Cleo's welcome link shows today's Garage code: {today}"));
        let lobby_code = codes
            .codes
            .iter()
            .find(|c| c.door_id == lobby)
            .map(|c| c.code.clone())
            .ok_or_else(|| Failure("no code for the Lobby".into()))?;
        doors.lobby.wait_for(|st| st.doorcode_slots.contains(&lobby_slot))?;
        let at_lobby = doors.lobby.keypad(&lobby_code)?;
        check!(at_lobby.granted, "the Lobby refused Cleo's code after its feed brought the slot: {at_lobby:?}");
        self.say(format!(
            "   The Lobby got the slot through its door feed, no phone involved: Cleo's Lobby code {lobby_code} is accepted."
        ));

        let door = &doors.garage;
        let before = door.keypad(&today)?;
        check!(!before.granted, "the Garage accepted the code before learning the slot");
        self.say(format!("   Cleo types it before any phone visited the Garage: refused ({}) — the door has not learnt the slot yet.", before.denial.as_deref().unwrap_or("?")));

        self.sync(Resident::Ann).await?;
        let u = self.unlock(doors, Resident::Ann, DoorName::Garage, 247)?;
        check!(
            u.report.granted && u.report.updates_carried && u.report.seq_after == 1,
            "Ann's unlock should carry update 1: {:?}",
            u.report
        );
        let st = door.status()?;
        check!(st.doorcode_slots.contains(&slot), "the Garage does not hold slot {slot}: {st:?}");
        let now_entry = door.keypad(&today)?;
        check!(
            now_entry.granted && now_entry.slot == Some(slot),
            "today's code was refused after the update: {now_entry:?}"
        );
        let secret = DoorcodeSecret::new(door.provisioned.doorcode_secret.0.0);
        let tomorrow = secret
            .code_at(slot, keyway_api::clock::now().saturating_add_secs(DAY), door.provisioned.utc_offset_minutes)
            .to_string();
        check!(tomorrow != today, "tomorrow's code equals today's");
        let t = door.keypad(&tomorrow)?;
        self.say(format!("   Cleo types {today} at the Garage keypad: accepted (slot {slot}) — unlocked."));
        check!(!t.granted, "tomorrow's code {tomorrow} opened the Garage today");
        self.say(format!(
            "   Tomorrow's code {tomorrow} typed today: refused ({}).",
            t.denial.as_deref().unwrap_or("?")
        ));
        self.upload(Resident::Ann).await?;
        let tasks = self.sam.door_updates(Some(garage), None).await?;
        check!(
            tasks.iter().any(|t| t.seq == 1 && t.state == TaskState::Delivered),
            "the doorcode task is not delivered: {tasks:?}"
        );
        self.say("   The Garage's door-update task for Cleo's slot shows delivered.");
        Ok(Cleo { person: invited.person.person_id, token, lobby_code })
    }
}
