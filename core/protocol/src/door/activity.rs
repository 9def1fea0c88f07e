//! The door's activity log: a bounded ring of records with their own gap-free sequence.

use crate::prelude::*;

use crate::UnixTime;
use crate::credential::{ActivityEvent, ActivityRecord};
use alloc::collections::VecDeque;
use serde::{Deserialize, Serialize};

/// The newest activity records a door keeps (at most [`DoorLimits::activity`]); when full, the
/// oldest is dropped. Since every record has a seq, the backend sees from the first seq it
/// receives whether any were lost before upload.
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

    /// The records held, oldest first, with consecutive seqs ending at [`ActivityLog::head`].
    pub fn records(&self) -> impl Iterator<Item = &ActivityRecord> {
        self.records.iter()
    }

    pub(crate) fn push(&mut self, time: UnixTime, event: ActivityEvent, capacity: usize) -> ActivityRecord {
        self.head += 1;
        let record = ActivityRecord { seq: self.head, time, event };
        while !self.records.is_empty() && self.records.len() >= capacity {
            self.records.pop_front();
        }
        if capacity > 0 {
            self.records.push_back(record.clone());
        }
        record
    }

    /// Up to `max` records with seq above `after`, oldest first.
    pub fn after(&self, after: u64, max: usize) -> Vec<ActivityRecord> {
        self.records.iter().filter(|r| r.seq > after).take(max).cloned().collect()
    }

    /// Checks the invariants a persisted log must satisfy (ascending, gap-free, ending at head,
    /// within capacity).
    pub(crate) fn is_consistent(&self, capacity: usize) -> bool {
        self.records.len() <= capacity
            && self.records.back().is_none_or(|r| r.seq == self.head)
            && self.records.iter().zip(self.records.iter().skip(1)).all(|(a, b)| b.seq == a.seq + 1)
    }
}
