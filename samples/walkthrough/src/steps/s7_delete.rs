//! Step 7: delete a person. Sam deletes Cleo: she leaves the people list, her activity
//! remains, the Lobby refuses her code as soon as its feed brings the deletion, and once a phone
//! carries the deletion to the Garage her code no longer opens it either.

use super::s3_doorcode::Cleo;
use crate::world::{DoorName, Doors, Failure, Resident, World, check, event_text, ops_text};
use keyway_api::AddKeycardRequest;
use keyway_api::client::{ClientConfig, SyncClient};
use keyway_protocol::credential::DoorOp;

/// The UID of Cleo's keycard, as the reader sees it.
const CLEO_CARD: &str = "04a1b2c3d4e5f6";

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
        self.keycard_for_cleo(doors, cleo).await?;
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
        let lobby_seq = deleted.updates.iter().filter(|u| u.door_id == doors.lobby.id()).map(|u| u.seq).max();
        let lobby_seq = lobby_seq.ok_or_else(|| Failure("no update for the Lobby".into()))?;
        doors.lobby.wait_for(|st| st.update_seq >= lobby_seq)?;
        let at_lobby = doors.lobby.keypad(&cleo.lobby_code)?;
        check!(!at_lobby.granted, "Cleo's code still opens the Lobby after its feed brought the deletion");
        self.say(format!(
            "   The Lobby's feed brought the deletion at once: Cleo's Lobby code {} is refused ({}), no phone involved.",
            cleo.lobby_code,
            at_lobby.denial.as_deref().unwrap_or("?")
        ));
        self.sync(Resident::Bob).await?;
        let u = self.unlock(doors, Resident::Bob, DoorName::Garage, 247)?;
        check!(u.report.granted && u.report.updates_carried, "Bob should carry the deletion: {:?}", u.report);
        let e = doors.garage.keypad(&code)?;
        check!(!e.granted, "Cleo's code still opens the Garage");
        let card = doors.garage.card(CLEO_CARD)?;
        check!(!card.granted, "Cleo's keycard still opens the Garage after Delete Person");
        self.say(format!(
            "   Cleo's keycard at the Garage reader: refused ({}) — Delete Person removed it too.",
            card.denial.as_deref().unwrap_or("?")
        ));
        self.say(format!(
            "   Cleo's code {code} at the Garage keypad: refused ({}).",
            e.denial.as_deref().unwrap_or("?")
        ));
        Ok(())
    }
}

impl World {
    /// Sam issues Cleo a keycard for the Garage; Bob's unlock carries it (as the card's keyed
    /// tag at the Garage, never its UID) and the card opens the Garage.
    async fn keycard_for_cleo(&mut self, doors: &Doors, cleo: &Cleo) -> Result<(), Failure> {
        let garage = doors.garage.id();
        let added = self
            .sam
            .add_keycard(
                cleo.person,
                &AddKeycardRequest { card: CLEO_CARD.into(), doors: vec![garage], start: None, expiry: None },
            )
            .await?;
        let uid = hex::decode(CLEO_CARD).map_err(|e| Failure(e.to_string()))?;
        let tag = match added.updates.iter().find(|u| u.door_id == garage).map(|u| u.ops.as_slice()) {
            Some([DoorOp::AddKeycard { card, .. }]) => card.clone(),
            other => return Err(Failure(format!("expected one AddKeycard for the Garage, got {other:?}"))),
        };
        check!(tag.as_slice() != uid.as_slice(), "the door update names the card's UID");
        self.say(format!(
            "Sam issues Cleo a keycard (UID {CLEO_CARD}) for the Garage; the door update names its keyed tag {}…, not the UID.",
            hex::encode(&tag.as_slice()[..4])
        ));
        let before = doors.garage.card(CLEO_CARD)?;
        check!(!before.granted, "the Garage admitted the card before learning it");
        self.sync(Resident::Bob).await?;
        let u = self.unlock(doors, Resident::Bob, DoorName::Garage, 247)?;
        check!(u.report.granted && u.report.updates_carried, "Bob should carry the keycard: {:?}", u.report);
        let e = doors.garage.card(CLEO_CARD)?;
        check!(e.granted, "Cleo's keycard was refused after Bob carried it: {e:?}");
        let copy = doors.garage.card(&hex::encode(tag.as_slice()))?;
        check!(!copy.granted, "a card written with the tag from the update opened the Garage");
        self.say("   Cleo's card opens the Garage after Bob's unlock carried the update; a blank card written with the tag from that update is refused.");
        Ok(())
    }
}
