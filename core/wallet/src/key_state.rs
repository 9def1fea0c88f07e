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
    /// Ended because the manager shortened it: the key `by` (a new key id, with the earlier
    /// expiry) took its place. The backend says which key replaced it; the old key is revoked
    /// at the doors as any other.
    Replaced {
        by: KeyId,
    },
    /// Within its window, but its certificate's freshness ran out at `since`: the phone has
    /// not synced within the property's revalidation window (a guest key: its host's phone).
    /// Doors refuse it until a sync (online) revalidates it.
    NeedsSync {
        since: UnixTime,
    },
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
    /// The phone must sync before this time to keep opening offline doors ("sync needed by"):
    /// the freshness of the key's certificate (a guest key's: its host's certificate).
    pub fresh_until: UnixTime,
    pub state: KeyState,
    /// The property whose key it is (`None`: a guest key that came in an offer).
    pub property: Option<crate::store::Property>,
}

/// The time the wallet reasons with: the device clock, but never earlier than the newest
/// server time seen (a clock set back cannot bring an expired key back to life on screen, and
/// the door's own clock decides anyway).
pub fn effective_now(device_now: UnixTime, last_server_time: Option<UnixTime>) -> UnixTime {
    device_now.max(last_server_time.unwrap_or(UnixTime::EPOCH))
}

pub fn state_of(validity: &Validity, fresh_until: UnixTime, revoked: bool, now: UnixTime) -> KeyState {
    if revoked {
        KeyState::Revoked
    } else if now < validity.start {
        KeyState::Upcoming { start: validity.start }
    } else if now >= validity.expiry {
        KeyState::Expired { at: validity.expiry }
    } else if now >= fresh_until {
        KeyState::NeedsSync { since: fresh_until }
    } else {
        KeyState::Active
    }
}

pub fn view_of(chain: &KeyChain, revoked: bool, now: UnixTime) -> KeyView {
    let root = &chain.root().body;
    let fresh_until = root.fresh_until;
    match chain.guest_link() {
        Some(g) => KeyView {
            key_id: g.body.key_id,
            is_guest: true,
            resident: false,
            may_share: false,
            doors: g.body.doors.clone(),
            validity: g.body.validity,
            fresh_until,
            state: state_of(&g.body.validity, fresh_until, revoked, now),
            property: None,
        },
        None => KeyView {
            key_id: root.key_id,
            is_guest: false,
            resident: root.flags.resident,
            may_share: root.flags.may_share,
            doors: root.doors.clone(),
            validity: root.validity,
            fresh_until,
            state: state_of(&root.validity, fresh_until, revoked, now),
            property: None,
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
