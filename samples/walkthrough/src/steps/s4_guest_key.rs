//! Step 4: the resident shares a guest key. Ann's phone signs a two-day Garage key for Gus,
//! offline; a wider key is refused by her app and, signed anyway by a tampered app, by the
//! door.

use super::s2_invite::Residents;
use crate::phones::Phone;
use crate::world::{Actor, DAY, DoorName, Doors, Failure, Resident, World, check};
use keyway_protocol::credential::{DenialReason, DoorSet, GuestKey, GuestKeyBody, KeyChain, KeyId, KeyPair, Validity};
use keyway_wallet::WalletError;
use keyway_wallet::key_state::KeyState;
use keyway_wallet::share::ShareError;

impl World {
    pub(super) async fn share_guest_key(&mut self, doors: &Doors, residents: &Residents) -> Result<(), Failure> {
        let garage = doors.garage.id();
        let ann_key = residents.ann_key;
        let mut gus = Phone::open(Resident::Gus.name(), &self.dir.join("phones/gus"))?;
        let request = gus.wallet.share_request("Gus");
        let request_text = request.to_text();
        self.say(format!("Gus, Ann's guest, shows his share request ({} characters).", request_text.len()));
        let now = keyway_api::clock::now();
        let window =
            Validity::new(now, now.saturating_add_secs(2 * DAY)).ok_or_else(|| Failure("bad window".into()))?;
        let door_set = DoorSet::new(vec![garage]).ok_or_else(|| Failure("bad doors".into()))?;
        let offer =
            self.phone(Resident::Ann)?.wallet.share_offline(ann_key, &request_text, door_set.clone(), window)?;
        self.say(format!(
            "   Ann's phone signs a guest key for the Garage for two days, offline ({} characters).",
            offer.len()
        ));
        let view = gus.wallet.accept_guest_key(&offer)?;
        check!(view.is_guest && view.state == KeyState::Active, "Gus's key should be an active guest key: {view:?}");
        self.give_phone(Resident::Gus, gus);
        let u = self.unlock(doors, Resident::Gus, DoorName::Garage, 247)?;
        check!(u.report.granted && u.report.is_guest, "the Garage refused Gus's guest key: {:?}", u.report);

        let too_long = Validity::new(now, residents.ann_expiry.saturating_add_secs(60 * DAY))
            .ok_or_else(|| Failure("bad window".into()))?;
        let ann = self.phone(Resident::Ann)?;
        match ann.wallet.share_offline(ann_key, &request_text, door_set.clone(), too_long) {
            Err(WalletError::Share(e @ ShareError::ScopeTooWide(_))) => {
                self.say(format!("   Asked for a guest key beyond her own expiry, Ann's app refuses: {e}."))
            }
            other => return Err(Failure(format!("Ann's wallet should refuse a wider guest key: {other:?}"))),
        }
        let ann = self.phone(Resident::Ann)?;
        let device = ann.device_key()?;
        let root = ann
            .wallet
            .store()
            .keys()?
            .into_iter()
            .find(|k| k.chain.leaf_key_id() == ann_key)
            .map(|k| k.chain.root().clone())
            .ok_or_else(|| Failure("Ann's key is missing".into()))?;
        let intruder = KeyPair::generate();
        let wide = GuestKey::sign(
            GuestKeyBody::new(KeyId::random_guest(), ann_key, intruder.public(), door_set, too_long),
            &device,
        );
        let outcome = self.raw_unlock(doors, Actor::Mal, DoorName::Garage, KeyChain::guest(root, wide), intruder)?;
        check!(
            !outcome.granted && outcome.denial == Some(DenialReason::GuestScopeWider),
            "the Garage should refuse the wider guest key: {:?}",
            outcome.denial
        );
        self.say("   A tampered app signs that wider key with Ann's device key anyway, for Mal's phone; the Garage refuses it: GuestScopeWider.");
        self.upload(Resident::Ann).await?;
        let person = self.sam.person(residents.ann).await?;
        let guests: usize = person.keys.iter().map(|k| k.guests.len()).sum();
        check!(guests == 1, "Mission Control should list Gus's key under Ann's, lists {guests}");
        self.say("   Ann's next upload registers the guest key: Sam sees it under Ann's key.");
        Ok(())
    }
}
