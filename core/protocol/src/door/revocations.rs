//! The door's revocation set: keys and persons refused before their expiry.

use crate::UnixTime;
use crate::credential::{DeviceId, KeyId, PersonId, RevocationCheck};
use alloc::collections::BTreeMap;
use serde::{Deserialize, Serialize};

/// Each entry maps to its `until`: the revoked key's (or the person's latest key's) expiry,
/// after which the entry is pruned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationSet {
    keys: BTreeMap<KeyId, UnixTime>,
    persons: BTreeMap<PersonId, UnixTime>,
    devices: BTreeMap<DeviceId, UnixTime>,
}

/// The set's layout in door states of version 1 and 2: keys and persons only.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct RevocationSetV2 {
    keys: BTreeMap<KeyId, UnixTime>,
    persons: BTreeMap<PersonId, UnixTime>,
}

impl From<RevocationSetV2> for RevocationSet {
    fn from(v: RevocationSetV2) -> Self {
        RevocationSet { keys: v.keys, persons: v.persons, devices: BTreeMap::new() }
    }
}

impl RevocationSet {
    /// Number of entries, keys plus persons (bounded by [`DoorLimits::revocations`]).
    ///
    /// [`DoorLimits::revocations`]: super::DoorLimits::revocations
    pub fn len(&self) -> usize {
        self.keys.len() + self.persons.len() + self.devices.len()
    }

    /// True when neither a key nor a person is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The time until which `key` stays revoked (then the entry is pruned), or `None` if the key
    /// is not revoked.
    pub fn key_until(&self, key: KeyId) -> Option<UnixTime> {
        self.keys.get(&key).copied()
    }

    /// The time until which `person` stays revoked (then the entry is pruned), or `None` if the
    /// person is not revoked.
    pub fn person_until(&self, person: PersonId) -> Option<UnixTime> {
        self.persons.get(&person).copied()
    }

    /// The time until which `device` stays revoked, or `None` if it is not.
    pub fn device_until(&self, device: DeviceId) -> Option<UnixTime> {
        self.devices.get(&device).copied()
    }

    pub(crate) fn revoke_device(&mut self, device: DeviceId, until: UnixTime, clock: UnixTime) -> bool {
        insert_max(&mut self.devices, device, until, clock)
    }

    pub(crate) fn would_add_device(&self, device: DeviceId) -> bool {
        !self.devices.contains_key(&device)
    }

    /// Records a key revocation, keeping the later `until` if the key is already listed.
    /// Entries already past at `clock` are not stored. Returns whether a new entry was added.
    pub(crate) fn revoke_key(&mut self, key: KeyId, until: UnixTime, clock: UnixTime) -> bool {
        insert_max(&mut self.keys, key, until, clock)
    }

    pub(crate) fn revoke_person(&mut self, person: PersonId, until: UnixTime, clock: UnixTime) -> bool {
        insert_max(&mut self.persons, person, until, clock)
    }

    pub(crate) fn would_add_key(&self, key: KeyId) -> bool {
        !self.keys.contains_key(&key)
    }

    pub(crate) fn would_add_person(&self, person: PersonId) -> bool {
        !self.persons.contains_key(&person)
    }

    /// Drops every entry whose `until` lies before `before`.
    pub(crate) fn prune_before(&mut self, before: UnixTime) {
        self.keys.retain(|_, until| *until >= before);
        self.persons.retain(|_, until| *until >= before);
        self.devices.retain(|_, until| *until >= before);
    }
}

fn insert_max<K: Ord>(map: &mut BTreeMap<K, UnixTime>, k: K, until: UnixTime, clock: UnixTime) -> bool {
    if until < clock {
        return false;
    }
    match map.get_mut(&k) {
        Some(existing) => {
            *existing = (*existing).max(until);
            false
        }
        None => {
            map.insert(k, until);
            true
        }
    }
}

impl RevocationCheck for RevocationSet {
    fn key_revoked(&self, key: KeyId) -> bool {
        self.keys.contains_key(&key)
    }
    fn person_revoked(&self, person: PersonId) -> bool {
        self.persons.contains_key(&person)
    }
    fn device_revoked(&self, device: DeviceId) -> bool {
        self.devices.contains_key(&device)
    }
}
