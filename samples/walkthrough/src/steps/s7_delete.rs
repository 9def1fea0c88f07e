//! Step 7: delete a person. Sam first issues Cleo a secure keycard for the Garage (it opens by
//! answering the door's challenge; a copy of its UID does not). Then Sam deletes Cleo: she leaves
//! the people list, her activity remains, the Lobby refuses her code as soon as its feed brings
//! the deletion, and once a phone carries the deletion to the Garage neither her code nor her
//! card opens it.

use super::s3_doorcode::Cleo;
use crate::world::{DoorName, Doors, Failure, Resident, World, check, event_text, ops_text};
use keyway_api::client::{ClientConfig, SyncClient};
use keyway_api::{AddKeycardRequest, KeycardKind};
use keyway_protocol::credential::{CardKind, DoorOp};
use lock_sim::CardCheck;
use std::path::PathBuf;

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
        let cleo_card = self.keycard_for_cleo(doors, cleo).await?;
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
        let card = doors.garage.card_file(&cleo_card)?;
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
    /// Sam issues Cleo a secure keycard for the Garage: its card file (UID and the card's own
    /// key) is encoded onto the card; Bob's unlock carries the enrolment (as the card's keyed tag
    /// at the Garage, never its UID) and the card opens the Garage by answering the door's
    /// challenge. Returns the card file.
    async fn keycard_for_cleo(&mut self, doors: &Doors, cleo: &Cleo) -> Result<PathBuf, Failure> {
        let garage = doors.garage.id();
        let added = self
            .sam
            .add_keycard(
                cleo.person,
                &AddKeycardRequest {
                    card: CLEO_CARD.into(),
                    doors: vec![garage],
                    start: None,
                    expiry: keyway_api::Expiry::Never,
                    kind: KeycardKind::Secure,
                },
            )
            .await?;
        let uid = hex::decode(CLEO_CARD).map_err(|e| Failure(e.to_string()))?;
        let tag = match added.updates.iter().find(|u| u.door_id == garage).map(|u| u.ops.as_slice()) {
            Some([DoorOp::AddKeycard { card, kind: CardKind::Secure, .. }]) => card.clone(),
            other => return Err(Failure(format!("expected one secure AddKeycard for the Garage, got {other:?}"))),
        };
        check!(tag.as_slice() != uid.as_slice(), "the door update names the card's UID");
        let file = added.card_file.ok_or_else(|| Failure("a secure card comes with its card file".into()))?;
        check!(file.key.is_some(), "the card file holds no key");
        let path = self.dir.join("cleo-card.json");
        let text = serde_json::to_string(&file).map_err(|e| Failure(e.to_string()))?;
        std::fs::write(&path, text).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
        self.say(format!(
            "Sam issues Cleo a secure keycard (UID {CLEO_CARD}) for the Garage; the door update names its keyed tag {}…, not the UID.",
            hex::encode(&tag.as_slice()[..4])
        ));
        self.say("   Its card file (the UID and the card's own AES key, derived from the property's card key, which never leaves Mission Control and the doors) is handed to Sam once and encoded onto the card.");
        let before = doors.garage.card_file(&path)?;
        check!(!before.granted, "the Garage admitted the card before learning it");
        self.sync(Resident::Bob).await?;
        let u = self.unlock(doors, Resident::Bob, DoorName::Garage, 247)?;
        check!(u.report.granted && u.report.updates_carried, "Bob should carry the keycard: {:?}", u.report);
        let e = doors.garage.card_file(&path)?;
        check!(
            e.granted && e.card_check == Some(CardCheck::Answered),
            "Cleo's keycard was refused after Bob carried it: {e:?}"
        );
        self.say("   After Bob's unlock carried the update, Cleo's card opens the Garage: it answered the door's fresh challenge.");
        let copy = doors.garage.card(CLEO_CARD)?;
        check!(!copy.granted, "a blank card written with Cleo's copied UID opened the Garage");
        let from_tag = doors.garage.card(&hex::encode(tag.as_slice()))?;
        check!(!from_tag.granted, "a card written with the tag from the update opened the Garage");
        self.say(format!(
            "   A blank card written with Cleo's copied UID is refused ({}: it cannot answer the challenge), and so is one written with the tag from the update ({}).",
            copy.denial.as_deref().unwrap_or("?"),
            from_tag.denial.as_deref().unwrap_or("?")
        ));
        Ok(path)
    }
}
