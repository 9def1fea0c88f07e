//! What the app shows about each key, and which key the wallet presents at a door.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, DoorSet, KeyChain, KeyId, Validity};

/// A key's state as the phone can tell it from its own clock and the last server time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    Active,
    /// Delivered ahead of its start (the person can set up the app); works from `start`.
    Upcoming {
        start: UnixTime,
    },
    Expired {
        at: UnixTime,
    },
    /// Ended early by the manager (Revoke All Keys, Delete Person, a deleted key).
    Revoked,
}

/// One key for display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyView {
    pub key_id: KeyId,
    pub is_guest: bool,
    pub resident: bool,
    pub may_share: bool,
    pub doors: DoorSet,
    pub validity: Validity,
    pub state: KeyState,
}

/// The time the wallet reasons with: the device clock, but never earlier than the newest
/// server time seen (a clock set back cannot bring an expired key back to life on screen, and
/// the door's own clock decides anyway).
pub fn effective_now(device_now: UnixTime, last_server_time: Option<UnixTime>) -> UnixTime {
    device_now.max(last_server_time.unwrap_or(UnixTime::EPOCH))
}

pub fn state_of(validity: &Validity, revoked: bool, now: UnixTime) -> KeyState {
    if revoked {
        KeyState::Revoked
    } else if now < validity.start {
        KeyState::Upcoming { start: validity.start }
    } else if now >= validity.expiry {
        KeyState::Expired { at: validity.expiry }
    } else {
        KeyState::Active
    }
}

pub fn view_of(chain: &KeyChain, revoked: bool, now: UnixTime) -> KeyView {
    let root = &chain.root().body;
    match chain.guest_link() {
        Some(g) => KeyView {
            key_id: g.body.key_id,
            is_guest: true,
            resident: false,
            may_share: false,
            doors: g.body.doors.clone(),
            validity: g.body.validity,
            state: state_of(&g.body.validity, revoked, now),
        },
        None => KeyView {
            key_id: root.key_id,
            is_guest: false,
            resident: root.flags.resident,
            may_share: root.flags.may_share,
            doors: root.doors.clone(),
            validity: root.validity,
            state: state_of(&root.validity, revoked, now),
        },
    }
}

/// The key to present at `door`: only active keys that open it; an authority-issued key
/// before a guest key, a resident key before a non-resident one, then the one that lasts
/// longest (least likely to be refused by a door whose clock runs ahead).
pub fn pick_key<'a>(
    keys: impl IntoIterator<Item = (&'a KeyChain, bool)>,
    door: DoorId,
    now: UnixTime,
) -> Option<&'a KeyChain> {
    keys.into_iter()
        .map(|(chain, revoked)| (chain, view_of(chain, revoked, now)))
        .filter(|(_, v)| v.state == KeyState::Active && v.doors.contains(door))
        .max_by_key(|(_, v)| (!v.is_guest, v.resident, v.validity.expiry, std::cmp::Reverse(v.key_id)))
        .map(|(chain, _)| chain)
}
