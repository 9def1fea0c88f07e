//! Outgoing messages of one session, cut into frames when the caller asks for them.

use crate::prelude::*;

use super::frame::{self, MessageKind};
use alloc::collections::VecDeque;

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    next_id: u8,
    messages: VecDeque<(MessageKind, u8, Vec<u8>)>,
    frames: VecDeque<Vec<u8>>,
}

impl Outbox {
    pub(crate) fn queue(&mut self, kind: MessageKind, message: Vec<u8>) {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.messages.push_back((kind, id, message));
    }

    /// Next frame for `mtu` (clamped to 23..=517).
    pub(crate) fn poll(&mut self, mtu: usize) -> Option<Vec<u8>> {
        if self.frames.is_empty() {
            let (kind, id, message) = self.messages.pop_front()?;
            let mtu = mtu.clamp(frame::MIN_MTU, frame::MAX_MTU);
            self.frames = frame::split(kind, id, &message, mtu).ok()?.into();
        }
        self.frames.pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.messages.is_empty()
    }
}
