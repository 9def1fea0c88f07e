//! Watching the wallet's keys: what changed since the app last looked (a key added, revoked,
//! replaced by a shorter one, started, expired or about to expire) and whether the wallet
//! needs a sync. [`crate::SharedWallet::subscribe_keys`] delivers a [`KeyUpdate`] after every
//! call that can change them (accept an invite, sync, accept a guest key, reset) and whenever
//! the app asks ([`crate::SharedWallet::refresh_keys`], e.g. when it comes to the foreground:
//! time alone moves a key from upcoming to active to expired).
//!
//! Which key replaced a shortened one is what the backend's sync says (`replaced_by`); it is
//! kept per property in the store's `property_meta` table under `replaced_by/<key id>` (the
//! `keys` table has no column for it), and read only for a key that the verified sync also
//! revoked. Keys are told apart by property and key id (two properties may both have a key 5).

use crate::key_state::{KeyState, KeyView};
use crate::store::{Property, PropertyId};
use crate::{Result, Wallet};
use keyway_api::{KeyStatus, SyncResponse};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::KeyId;
use std::collections::BTreeMap;

const REPLACED_PREFIX: &str = "replaced_by/";
/// An active key that ends within this many seconds is reported as expiring (once).
pub const EXPIRING_WITHIN_SECS: u64 = 24 * 3600;
/// The wallet needs a sync when its last one is older than this.
pub const STALE_AFTER_SECS: u64 = 24 * 3600;

/// One change to the wallet's keys, or to whether it needs a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyChange {
    /// A key arrived (sync, invite, guest key offer).
    Added { key: KeyView },
    /// The manager ended the key early.
    Revoked { key: KeyView },
    /// The manager shortened the key: `by` took its place (see [`KeyState::Replaced`]).
    Replaced { key: KeyView, by: KeyId },
    /// An upcoming key's start has come.
    Activated { key: KeyView },
    /// The key's end has come.
    Expired { key: KeyView },
    /// The key's certificate is no longer fresh (no sync within the property's revalidation
    /// window, see [`KeyState::NeedsSync`]): doors refuse it until the phone syncs.
    Lapsed { key: KeyView, since: UnixTime },
    /// An active key ends within [`EXPIRING_WITHIN_SECS`] (reported once per key).
    Expiring { key: KeyView, at: UnixTime },
    /// The key is gone from the wallet (sign-out, or its property was left).
    Removed { key_id: KeyId, property: Option<Property> },
    /// A sync succeeded; the keys are as the backend had them at `server_time`.
    Synced { server_time: UnixTime },
    /// The keys may be out of date: sync.
    NeedsSync { reason: SyncNeed },
}

/// Why the wallet needs a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncNeed {
    /// Enrolled, but nothing synced yet (e.g. a reinstall that kept the secure store).
    NeverSynced,
    /// The last sync failed (network or server): revocations may be missing.
    SyncFailed { reason: String },
    /// The last successful sync is older than [`STALE_AFTER_SECS`].
    Stale { last_sync: UnixTime },
    /// The key's certificate is no longer fresh (since `since`): doors refuse it until a sync
    /// revalidates it ([`KeyState::NeedsSync`]).
    KeyNotFresh { key_id: KeyId, since: UnixTime },
}

/// What a key listener receives: every key as it stands, and what changed since the last
/// update (empty in the first update a new listener gets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUpdate {
    pub keys: Vec<KeyView>,
    pub changes: Vec<KeyChange>,
}

/// The wallet's keys and sync standing at one moment, as the observer compares them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySnapshot {
    pub keys: Vec<KeyView>,
    pub now: UnixTime,
    pub enrolled: bool,
    /// Server time of the last successful sync.
    pub last_sync: Option<UnixTime>,
    /// Whether the wallet holds a sync cursor (has synced since its database was made).
    pub synced: bool,
}

impl Wallet {
    /// Remembers which key replaced each key the backend reports as replaced.
    pub(crate) fn note_replacements(&self, p: PropertyId, resp: &SyncResponse) -> Result<()> {
        for entry in &resp.keys {
            if entry.status == KeyStatus::Replaced
                && let Some(by) = entry.replaced_by
                && by != entry.key_id
            {
                self.store.set_property_meta(
                    p,
                    &format!("{REPLACED_PREFIX}{}", entry.key_id.0),
                    &by.0.to_be_bytes(),
                )?;
            }
        }
        Ok(())
    }

    /// The key that replaced `p`'s key `key`, if the backend said one did.
    pub(crate) fn replaced_by(&self, p: PropertyId, key: KeyId) -> Result<Option<KeyId>> {
        let value = self.store.property_meta(p, &format!("{REPLACED_PREFIX}{}", key.0))?;
        Ok(value.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok()).map(|b| KeyId(u64::from_be_bytes(b))))
    }

    /// The keys and sync standing now, for [`KeyObserver::update`].
    pub fn key_snapshot(&self) -> Result<KeySnapshot> {
        let now = self.now()?;
        Ok(KeySnapshot {
            keys: self.keys_at(now)?,
            now,
            enrolled: self.is_enrolled()?,
            last_sync: self.store.last_server_time()?,
            synced: self.synced_everywhere()?,
        })
    }
}

impl Wallet {
    /// Whether every joined property has synced since its database rows were made.
    fn synced_everywhere(&self) -> Result<bool> {
        let properties = self.store.properties()?;
        for p in &properties {
            if self.store.cursor_of(p.id)?.is_none() {
                return Ok(false);
            }
        }
        Ok(!properties.is_empty())
    }
}

/// A key's identity in the wallet: its property (none for an offered key) and its id.
type KeyRef = (Option<PropertyId>, KeyId);

fn key_ref(key: &KeyView) -> KeyRef {
    (key.property.as_ref().map(|p| p.id), key.key_id)
}

/// Compares successive snapshots into [`KeyChange`]s. Pure: the shared wallet feeds it.
#[derive(Debug, Default)]
pub struct KeyObserver {
    last: Option<BTreeMap<KeyRef, KeyView>>,
    warned_expiring: Vec<KeyRef>,
    need: Option<SyncNeed>,
    sync_failed: Option<String>,
}

impl KeyObserver {
    /// Records the outcome of a sync attempt: a failure (network, server) is a reason to sync
    /// again, a success clears it and is reported as [`KeyChange::Synced`] at the next update.
    pub fn sync_finished(&mut self, failure: Option<String>) {
        self.sync_failed = failure;
    }

    /// The changes from the last snapshot to `now` (nothing for the first snapshot but a sync
    /// need), and the update to deliver.
    pub fn update(&mut self, snap: KeySnapshot, synced_at: Option<UnixTime>) -> KeyUpdate {
        let mut changes = Vec::new();
        let current: BTreeMap<KeyRef, KeyView> = snap.keys.iter().map(|k| (key_ref(k), k.clone())).collect();
        if let Some(last) = &self.last {
            for (id, key) in &current {
                let Some(before) = last.get(id) else {
                    changes.push(KeyChange::Added { key: key.clone() });
                    continue;
                };
                if before.state == key.state {
                    continue;
                }
                changes.push(match key.state {
                    KeyState::Revoked => KeyChange::Revoked { key: key.clone() },
                    KeyState::Replaced { by } => KeyChange::Replaced { key: key.clone(), by },
                    KeyState::Active => KeyChange::Activated { key: key.clone() },
                    KeyState::Expired { .. } => KeyChange::Expired { key: key.clone() },
                    KeyState::NeedsSync { since } => KeyChange::Lapsed { key: key.clone(), since },
                    // A key does not go back to upcoming; if a clock said so, it is no news.
                    KeyState::Upcoming { .. } => continue,
                });
            }
            for (id, key) in last.iter().filter(|(id, _)| !current.contains_key(id)) {
                changes.push(KeyChange::Removed { key_id: id.1, property: key.property.clone() });
            }
        }
        let soon = snap.now.saturating_add_secs(EXPIRING_WITHIN_SECS);
        self.warned_expiring.retain(|id| current.contains_key(id));
        for key in current.values() {
            if key.state == KeyState::Active
                && key.validity.expiry <= soon
                && !self.warned_expiring.contains(&key_ref(key))
            {
                self.warned_expiring.push(key_ref(key));
                changes.push(KeyChange::Expiring { key: key.clone(), at: key.validity.expiry });
            }
        }
        if let Some(server_time) = synced_at {
            changes.push(KeyChange::Synced { server_time });
        }
        let need = if !snap.enrolled {
            None
        } else if let Some(reason) = &self.sync_failed {
            Some(SyncNeed::SyncFailed { reason: reason.clone() })
        } else if !snap.synced {
            Some(SyncNeed::NeverSynced)
        } else {
            snap.last_sync
                .filter(|t| t.saturating_add_secs(STALE_AFTER_SECS) < snap.now)
                .map(|last_sync| SyncNeed::Stale { last_sync })
        };
        if need.is_some() && need != self.need {
            changes.push(KeyChange::NeedsSync { reason: need.clone().unwrap_or(SyncNeed::NeverSynced) });
        }
        self.need = need;
        self.last = Some(current);
        KeyUpdate { keys: snap.keys, changes }
    }

    /// The first update a new listener gets: the keys as they stand, and the sync need if any.
    pub fn current(&self, keys: Vec<KeyView>) -> KeyUpdate {
        let changes = self.need.clone().map(|reason| KeyChange::NeedsSync { reason }).into_iter().collect();
        KeyUpdate { keys, changes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_protocol::credential::{DoorId, DoorSet, Validity};

    fn key(id: u64, state: KeyState, expiry: u64) -> KeyView {
        KeyView {
            key_id: KeyId(id),
            is_guest: false,
            resident: true,
            may_share: false,
            doors: DoorSet::new(vec![DoorId(1)]).unwrap(),
            validity: Validity::new(UnixTime(0), UnixTime(expiry)).unwrap(),
            fresh_until: UnixTime(expiry),
            state,
            property: None,
        }
    }

    fn snap(keys: Vec<KeyView>, now: u64) -> KeySnapshot {
        KeySnapshot { keys, now: UnixTime(now), enrolled: true, last_sync: Some(UnixTime(now)), synced: true }
    }

    #[test]
    fn reports_each_transition_once() {
        let mut o = KeyObserver::default();
        let far = 10_000_000;
        assert!(o.update(snap(vec![key(1, KeyState::Active, far)], 100), None).changes.is_empty());
        let u = o.update(
            snap(vec![key(1, KeyState::Revoked, far), key(2, KeyState::Active, far)], 200),
            Some(UnixTime(200)),
        );
        assert_eq!(
            u.changes,
            vec![
                KeyChange::Revoked { key: key(1, KeyState::Revoked, far) },
                KeyChange::Added { key: key(2, KeyState::Active, far) },
                KeyChange::Synced { server_time: UnixTime(200) },
            ]
        );
        let by = KeyState::Replaced { by: KeyId(3) };
        let u = o.update(snap(vec![key(1, KeyState::Revoked, far), key(2, by, far)], 300), None);
        assert_eq!(u.changes, vec![KeyChange::Replaced { key: key(2, by, far), by: KeyId(3) }]);
        let u = o.update(snap(vec![], 400), None);
        assert_eq!(
            u.changes,
            vec![
                KeyChange::Removed { key_id: KeyId(1), property: None },
                KeyChange::Removed { key_id: KeyId(2), property: None }
            ]
        );
    }

    #[test]
    fn expiring_and_sync_needs_are_edges() {
        let mut o = KeyObserver::default();
        let now = 1_000_000;
        let ends = now + 3600;
        let u = o.update(snap(vec![key(1, KeyState::Active, ends)], now), None);
        assert_eq!(u.changes, vec![KeyChange::Expiring { key: key(1, KeyState::Active, ends), at: UnixTime(ends) }]);
        assert!(o.update(snap(vec![key(1, KeyState::Active, ends)], now + 1), None).changes.is_empty());
        o.sync_finished(Some("offline".into()));
        let u = o.update(snap(vec![key(1, KeyState::Active, ends)], now + 2), None);
        assert_eq!(u.changes, vec![KeyChange::NeedsSync { reason: SyncNeed::SyncFailed { reason: "offline".into() } }]);
        assert!(o.update(snap(vec![key(1, KeyState::Active, ends)], now + 3), None).changes.is_empty());
        assert_eq!(o.current(vec![]).changes.len(), 1, "a new listener hears the need");
        o.sync_finished(None);
        let mut stale = snap(vec![], now + 5);
        stale.last_sync = Some(UnixTime(now - STALE_AFTER_SECS - 10));
        let u = o.update(stale, None);
        assert!(u.changes.contains(&KeyChange::NeedsSync {
            reason: SyncNeed::Stale { last_sync: UnixTime(now - STALE_AFTER_SECS - 10) }
        }));
    }
}
