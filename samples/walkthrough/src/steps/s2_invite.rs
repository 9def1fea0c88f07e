//! Step 2: invite a resident with a future start. Sam invites Ann, whose key starts a few
//! seconds from now: her phone shows it as upcoming and opens nothing until then. Bob, another
//! resident, is invited active now.

use crate::phones::Phone;
use crate::world::{DAY, DoorName, Doors, Failure, Resident, World, check};
use keyway_api::{AccessKind, InviteRequest, KeyGrant, PersonStatus};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{KeyId, PersonId};
use keyway_wallet::WalletError;
use keyway_wallet::key_state::KeyState;
use std::time::Duration;

/// How far ahead of the invite Ann's access starts (the walkthrough waits for it).
const START_DELAY_SECS: u64 = 3;

/// Ann and Bob, as Mission Control knows them after their invites.
pub(crate) struct Residents {
    pub(crate) ann: PersonId,
    pub(crate) ann_key: KeyId,
    pub(crate) ann_expiry: UnixTime,
    pub(crate) bob: PersonId,
}

impl World {
    pub(super) async fn invite_residents(&mut self, doors: &Doors) -> Result<Residents, Failure> {
        let (lobby, garage, bikes) = (doors.lobby.id(), doors.garage.id(), doors.bikes.id());
        let now = keyway_api::clock::now();
        let start = now.saturating_add_secs(START_DELAY_SECS);
        let ann_expiry = now.saturating_add_secs(30 * DAY);
        let invited = self
            .sam
            .invite(&InviteRequest {
                name: "Ann".into(),
                contact: "ann@example.com".into(),
                access: AccessKind::AppKey,
                keys: vec![KeyGrant {
                    doors: vec![lobby, garage, bikes],
                    start: Some(start),
                    expiry: ann_expiry.into(),
                }],
                resident: true,
                may_share: true,
            })
            .await?;
        check!(
            invited.person.status == PersonStatus::Upcoming,
            "Ann should be upcoming, is {:?}",
            invited.person.status
        );
        check!(invited.updates.is_empty(), "an app key should need no door update");
        let ann_key =
            invited.person.keys.first().map(|k| k.key_id).ok_or_else(|| Failure("Ann's invite has no key".into()))?;
        self.say(format!("Sam invites Ann (resident, may share) to the Lobby, the Garage and the Bike Room, starting {start} (in {START_DELAY_SECS} s), until {ann_expiry}."));
        let outbox = self.sam.outbox().await?;
        let welcome = outbox
            .iter()
            .find(|m| m.message_id == invited.welcome_message_id)
            .ok_or_else(|| Failure("no welcome message in the outbox".into()))?;
        check!(
            welcome.created_at.0 + 60 > now.0 && welcome.created_at <= keyway_api::clock::now(),
            "the welcome was not sent today"
        );
        self.say(format!("   The welcome goes out today to {}: \"{}\"", welcome.to, welcome.subject));
        let token = welcome.token.clone();

        let mut ann = Phone::open(Resident::Ann.name(), &self.dir.join("phones/ann"))?;
        let accepted = ann.wallet.accept_invite(&self.base, &token).await?;
        check!(accepted.keys_received == 1, "Ann's phone received {} keys", accepted.keys_received);
        let view = ann.wallet.keys_at(keyway_api::clock::now())?;
        check!(
            matches!(view.first().map(|k| k.state), Some(KeyState::Upcoming { .. })),
            "Ann's key should show as upcoming: {view:?}"
        );
        self.say(format!("   Ann's phone accepts the invite: key {ann_key} shows as upcoming."));
        self.give_phone(Resident::Ann, ann);
        match self.try_unlock(doors, Resident::Ann, DoorName::Garage, 247)? {
            Err(WalletError::NoKeyForDoor(door)) if door == garage => {
                self.say("   Ann tries the Garage now: her phone has no active key for it yet.")
            }
            Err(e) => return Err(Failure(format!("Ann at the Garage: {e}"))),
            Ok(_) => return Err(Failure("Ann unlocked before her start".into())),
        }

        let bob_invite = self
            .sam
            .invite(&InviteRequest {
                name: "Bob".into(),
                contact: "bob@example.com".into(),
                access: AccessKind::AppKey,
                keys: vec![KeyGrant {
                    doors: vec![lobby, garage, bikes],
                    start: None,
                    expiry: now.saturating_add_secs(60 * DAY).into(),
                }],
                resident: true,
                may_share: false,
            })
            .await?;
        let bob_token = self
            .sam
            .outbox()
            .await?
            .into_iter()
            .find(|m| m.message_id == bob_invite.welcome_message_id)
            .map(|m| m.token);
        let mut bob = Phone::open(Resident::Bob.name(), &self.dir.join("phones/bob"))?;
        bob.wallet.accept_invite(&self.base, &bob_token.ok_or_else(|| Failure("no welcome for Bob".into()))?).await?;
        self.say("   Meanwhile Sam invites Bob, another resident, active now; his phone accepts.");
        self.give_phone(Resident::Bob, bob);

        let wait = start.0.saturating_sub(keyway_api::clock::now().0) + 1;
        self.say(format!("   … waiting {wait} s for Ann's start …"));
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let view = self.phone(Resident::Ann)?.wallet.keys_at(keyway_api::clock::now())?;
        check!(view.first().map(|k| k.state) == Some(KeyState::Active), "Ann's key should be active now: {view:?}");
        let u = self.unlock(doors, Resident::Ann, DoorName::Lobby, 247)?;
        check!(u.report.granted, "the Lobby refused Ann at her start");
        let u = self.unlock(doors, Resident::Ann, DoorName::Garage, 185)?;
        check!(u.report.granted && u.link.round_trips == 1, "the Garage refused Ann or took more than one round trip");
        Ok(Residents { ann: invited.person.person_id, ann_key, ann_expiry, bob: bob_invite.person.person_id })
    }
}
