//! The door's activity log: a bounded ring of records with their own gap-free sequence.

use crate::prelude::*;

use crate::UnixTime;
use crate::credential::{ActivityEvent, ActivityRecord};
use alloc::collections::VecDeque;
use serde::{Deserialize, Serialize};

/// The newest activity records a door keeps (at most [`DoorLimits::activity`]).
///
/// Slots are kept for what matters: a refusal that names no one folds into the newest record
/// when that is the same refusal and no receipt has carried it yet
/// ([`ActivityEvent::DeniedRepeatedly`]); refusals together hold at most a quarter of the ring
/// (a new one drops the oldest refusal, never a grant); when the ring is full the oldest record
/// goes. Every dropped record is counted, and the next receipt carries a signed
/// [`ActivityEvent::RecordsDropped`] marker, so the backend sees the gap and its size.
///
/// [`DoorLimits::activity`]: super::DoorLimits::activity
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityLog {
    /// Seq of the newest record (0 before the first).
    head: u64,
    records: VecDeque<ActivityRecord>,
}

impl ActivityLog {
    /// Seq of the newest record ever logged (0 before the first); it keeps counting when old
    /// records are dropped.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Number of records still held (not the number ever logged, which is [`ActivityLog::head`]).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no record is held (before the first entry).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records held, oldest first, with ascending seqs ending at [`ActivityLog::head`].
    pub fn records(&self) -> impl Iterator<Item = &ActivityRecord> {
        self.records.iter()
    }

    /// Logs `event`: folded into the newest record, or pushed (see the type's rules). `sealed`
    /// is the newest seq a receipt carried; `dropped` counts every record that leaves the ring.
    pub(crate) fn log(
        &mut self,
        time: UnixTime,
        event: ActivityEvent,
        capacity: usize,
        sealed: u64,
        dropped: &mut u64,
    ) -> ActivityRecord {
        if let Some(record) = self.fold(time, &event, sealed) {
            return record;
        }
        if event.is_denial() && capacity > 0 {
            let quota = (capacity / 4).max(1);
            if self.records.iter().filter(|r| r.event.is_denial()).count() >= quota
                && let Some(oldest) = self.records.iter().position(|r| r.event.is_denial())
            {
                self.records.remove(oldest);
                *dropped += 1;
            }
        }
        self.head += 1;
        let record = ActivityRecord { seq: self.head, time, event };
        while !self.records.is_empty() && self.records.len() >= capacity {
            self.records.pop_front();
            *dropped += 1;
        }
        if capacity > 0 {
            self.records.push_back(record.clone());
        }
        record
    }

    /// Folds an unattributed refusal into the newest record if that is the same refusal and
    /// no receipt has carried it (`seq > sealed`).
    fn fold(&mut self, time: UnixTime, event: &ActivityEvent, sealed: u64) -> Option<ActivityRecord> {
        let key = event.unattributed_denial()?;
        let newest = self.records.back_mut().filter(|r| r.seq > sealed)?;
        if newest.event.unattributed_denial() != Some(key) {
            return None;
        }
        let (count, first) = match &newest.event {
            ActivityEvent::DeniedRepeatedly { count, first, .. } => (count.saturating_add(1), *first),
            _ => (2, newest.time),
        };
        newest.event = ActivityEvent::DeniedRepeatedly { channel: key.0, reason: key.1, count, first };
        newest.time = time;
        Some(newest.clone())
    }

    /// Up to `max` records with seq above `after`, oldest first.
    pub fn after(&self, after: u64, max: usize) -> Vec<ActivityRecord> {
        self.records.iter().filter(|r| r.seq > after).take(max).cloned().collect()
    }

    /// Checks the invariants a persisted log must satisfy (strictly ascending, ending at head,
    /// within capacity; dropped refusals leave gaps).
    pub(crate) fn is_consistent(&self, capacity: usize) -> bool {
        self.records.len() <= capacity
            && self.records.back().is_none_or(|r| r.seq == self.head)
            && self.records.iter().zip(self.records.iter().skip(1)).all(|(a, b)| b.seq > a.seq)
    }
}
