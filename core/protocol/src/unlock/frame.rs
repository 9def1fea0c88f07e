//! Framing of unlock messages for any ATT MTU from 23 to 517.
//!
//! A message is cut into frames of at most `MTU - 3` bytes (one ATT write or notification
//! each). Every frame carries a 5-byte header:
//!
//! ```text
//! byte 0     bit 7: FIRST (1 on the first frame of a message); bits 0-6: message kind
//!            (1 challenge, 2 request, 3 result, 4 update batch, 5 time statement)
//! byte 1     message id (the sender's per-connection counter, wraps)
//! bytes 2-4  u24 big-endian: on the FIRST frame the message's total length;
//!            on later frames the byte offset of this frame's data in the message
//! bytes 5..  data (at least one byte)
//! ```
//!
//! The receiver knows from the first frame how long the message is and refuses anything above
//! its bound ([`MAX_MESSAGE_LEN`] at most) before reserving memory; afterwards every frame must
//! continue exactly where the previous one ended, so a duplicated frame (offset behind), a
//! missing or reordered frame (offset ahead), a frame of another message (id or kind differs)
//! and a frame past the end are each detected and named. Senders may cut messages anywhere;
//! [`split`] fills frames to the MTU.

use crate::prelude::*;

use core::fmt;

/// Bytes of header at the start of every frame: kind and FIRST flag, message id, u24 length or
/// offset.
pub const HEADER_LEN: usize = 5;
/// Smallest ATT MTU accepted (BLE's default), giving 20-byte frames with 15 bytes of data.
pub const MIN_MTU: usize = 23;
/// Largest ATT MTU accepted (BLE's maximum), giving 514-byte frames.
pub const MAX_MTU: usize = 517;
/// ATT's write/notify overhead: opcode and attribute handle.
pub const ATT_OVERHEAD: usize = 3;
/// Longest attribute value GATT allows (Core spec Vol 3 Part F 3.2.9): at MTU 517 a frame is
/// 512 bytes, not `517 - 3` (peers drop or refuse a longer write or notification).
pub const MAX_ATTRIBUTE_VALUE: usize = 512;
/// Largest message either side accepts (the largest update batch, 128 KiB, fits below it).
pub const MAX_MESSAGE_LEN: usize = 160 * 1024;
const FIRST: u8 = 0x80;
const U24_MAX: usize = 0xFF_FFFF;

/// The message kinds of an unlock, as carried in bits 0-6 of a frame's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// Door → phone: the signed [`super::DoorChallenge`] sent when the phone connects.
    Challenge = 1,
    /// Phone → door: the [`super::UnlockRequest`] answering the challenge.
    Request = 2,
    /// Door → phone: the [`super::DoorResult`] with the decision and the signed receipt.
    Result = 3,
    /// The update batch the phone sends right after its request.
    Batch = 4,
    /// Phone → door, optional, before the request: an authority-signed
    /// [`crate::credential::TimeStatement`] ahead of the challenge's door time.
    Time = 5,
    /// Phone → door, instead of a request: a [`super::UnlockRequest`] whose proof is made
    /// under [`crate::credential::label::DELIVERY_PROOF`]: a delivery session (the phone
    /// brings updates and takes the receipt; the door does not open). A door that predates it
    /// refuses the frame as an unknown kind.
    Deliver = 6,
    /// Phone → door, instead of a request: a [`super::ResumeRequest`] (a repeat unlock with a
    /// ticket from an earlier session; no public-key operation at the door).
    Resume = 7,
}

impl MessageKind {
    fn from_bits(b: u8) -> Option<Self> {
        match b {
            1 => Some(MessageKind::Challenge),
            2 => Some(MessageKind::Request),
            3 => Some(MessageKind::Result),
            4 => Some(MessageKind::Batch),
            5 => Some(MessageKind::Time),
            6 => Some(MessageKind::Deliver),
            7 => Some(MessageKind::Resume),
            _ => None,
        }
    }
}

/// The kind a frame names if it is the first frame of a message (`None` for a continuation,
/// an unknown kind or an empty frame): lets a receiver choose what to reassemble.
pub fn first_frame_kind(frame: &[u8]) -> Option<MessageKind> {
    let b0 = *frame.first()?;
    if b0 & FIRST == 0 {
        return None;
    }
    MessageKind::from_bits(b0 & !FIRST)
}

/// Why a frame could not be produced or accepted. On the receiving side every variant means the
/// peer broke the framing rules: the partial message is dropped and the session should be
/// abandoned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The ATT MTU given (bytes) is outside [`MIN_MTU`]`..=`[`MAX_MTU`].
    #[error("MTU {0} is outside 23..=517")]
    BadMtu(usize),
    /// The frame has no room for the 5-byte header and at least one byte of data.
    #[error("frame of {len} bytes is shorter than the {HEADER_LEN}-byte header plus data")]
    Truncated {
        /// Length of the frame received, in bytes.
        len: usize,
    },
    /// The frame is longer than the receiver's frame limit (MTU − 3).
    #[error("frame of {len} bytes exceeds the {max}-byte limit for this MTU")]
    FrameTooLarge {
        /// Length of the frame received, in bytes.
        len: usize,
        /// The receiver's largest frame, in bytes.
        max: usize,
    },
    /// Bits 0-6 of the first header byte name no [`MessageKind`].
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// A valid kind, but not the one the receiver expects in its current step.
    #[error("expected a {expected:?} message, got {got:?}")]
    UnexpectedKind {
        /// The kind the receiver is reassembling.
        expected: MessageKind,
        /// The kind the frame's header names.
        got: MessageKind,
    },
    /// The FIRST frame declares a total length above the bound for this kind; refused before
    /// anything is buffered.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// Total message length the FIRST frame declares, in bytes.
        len: usize,
        /// The receiver's bound for this kind, in bytes.
        max: usize,
    },
    /// A continuation frame (FIRST flag clear) arrived with no message started.
    #[error("continuation frame with no message in progress")]
    NoMessageInProgress,
    /// A FIRST frame arrived while another message was still incomplete.
    #[error("a new message started before message {in_progress} was complete")]
    Interleaved {
        /// Message id of the incomplete message.
        in_progress: u8,
    },
    /// A continuation frame carries another message id than the message in progress.
    #[error("frame of message {got} while message {expected} is in progress")]
    WrongMessageId {
        /// Message id of the message in progress.
        expected: u8,
        /// Message id in the frame's header.
        got: u8,
    },
    /// The frame's offset is behind the bytes already received (a repeated frame).
    #[error("duplicate frame: offset {offset}, but {received} bytes already received")]
    Duplicate {
        /// Byte offset the frame's header declares.
        offset: usize,
        /// Bytes of the message received so far.
        received: usize,
    },
    /// The frame's offset is ahead of the bytes received: a frame was lost or reordered.
    #[error("missing or out-of-order frame: offset {offset}, but only {received} bytes received")]
    Missing {
        /// Byte offset the frame's header declares.
        offset: usize,
        /// Bytes of the message received so far.
        received: usize,
    },
    /// The frame's data would extend beyond the total length the FIRST frame declared.
    #[error("frame runs past the end of the {total}-byte message")]
    PastEnd {
        /// Total message length declared by the FIRST frame, in bytes.
        total: usize,
    },
    /// Sending side: the message (length in bytes) is empty, longer than the u24 length field
    /// allows, or the requested cut points are not strictly ascending inside it.
    #[error("message too large to frame ({0} bytes)")]
    Unframeable(usize),
}

/// Largest frame, in bytes, for an ATT MTU: `mtu - 3`; [`FrameError::BadMtu`] outside
/// [`MIN_MTU`]`..=`[`MAX_MTU`].
pub fn max_frame_len(mtu: usize) -> Result<usize, FrameError> {
    if !(MIN_MTU..=MAX_MTU).contains(&mtu) {
        return Err(FrameError::BadMtu(mtu));
    }
    Ok((mtu - ATT_OVERHEAD).min(MAX_ATTRIBUTE_VALUE))
}

fn header(first: bool, kind: MessageKind, id: u8, field: usize) -> [u8; HEADER_LEN] {
    let f = field as u32;
    [if first { FIRST } else { 0 } | kind as u8, id, (f >> 16) as u8, (f >> 8) as u8, f as u8]
}

/// Cuts `message` into frames at `cuts` (data offsets, strictly ascending, inside the message).
/// Frame sizes are not checked against any MTU. Used by [`split`] and by tests that need every
/// possible split point; [`FrameError::Unframeable`] for an empty or over-long message or bad cuts.
pub fn split_at(kind: MessageKind, id: u8, message: &[u8], cuts: &[usize]) -> Result<Vec<Vec<u8>>, FrameError> {
    if message.is_empty() || message.len() > U24_MAX {
        return Err(FrameError::Unframeable(message.len()));
    }
    let mut frames = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &end in cuts.iter().chain(core::iter::once(&message.len())) {
        if end <= start || end > message.len() {
            return Err(FrameError::Unframeable(message.len()));
        }
        let first = start == 0;
        let field = if first { message.len() } else { start };
        let mut frame = Vec::with_capacity(HEADER_LEN + end - start);
        frame.extend_from_slice(&header(first, kind, id, field));
        frame.extend_from_slice(&message[start..end]);
        frames.push(frame);
        start = end;
    }
    Ok(frames)
}

/// Cuts `message` into frames of `mtu - 3` bytes (the last may be shorter), all of kind `kind`
/// and message id `id`. Fails for an MTU outside 23..=517 or an empty message.
pub fn split(kind: MessageKind, id: u8, message: &[u8], mtu: usize) -> Result<Vec<Vec<u8>>, FrameError> {
    let data = max_frame_len(mtu)? - HEADER_LEN;
    let cuts: Vec<usize> = (1..message.len().div_ceil(data)).map(|i| i * data).collect();
    split_at(kind, id, message, &cuts)
}

/// Number of frames a message of `len` bytes needs at `mtu` (as [`split`] cuts it).
pub fn frame_count(len: usize, mtu: usize) -> Result<usize, FrameError> {
    Ok(len.div_ceil(max_frame_len(mtu)? - HEADER_LEN))
}

struct InProgress {
    id: u8,
    total: usize,
    data: Vec<u8>,
}

/// Reassembles one kind of message from frames, enforcing order and a length bound.
///
/// Memory is bounded by the bytes actually received (never by the length a peer claims), and
/// by `max_len` in any case.
pub struct Reassembler {
    kind: MessageKind,
    max_len: usize,
    max_frame: usize,
    current: Option<InProgress>,
}

impl fmt::Debug for Reassembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reassembler")
            .field("kind", &self.kind)
            .field("max_len", &self.max_len)
            .field("received", &self.current.as_ref().map(|c| (c.data.len(), c.total)))
            .finish()
    }
}

impl Reassembler {
    /// Accepts `kind` messages of at most `max_len` bytes (capped at [`MAX_MESSAGE_LEN`]) in
    /// frames of at most `max_frame` bytes.
    pub fn new(kind: MessageKind, max_len: usize, max_frame: usize) -> Self {
        Reassembler { kind, max_len: max_len.min(MAX_MESSAGE_LEN), max_frame, current: None }
    }

    /// The kind of message this reassembler accepts.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// Bytes of memory reserved for the message in progress (its buffer's capacity, which may
    /// exceed the bytes received so far); 0 when no message is in progress.
    pub fn buffered(&self) -> usize {
        self.current.as_ref().map_or(0, |c| c.data.capacity())
    }

    /// Feeds one frame; returns the message once its last frame arrived. After an error the
    /// partial message is dropped (the session it belongs to should be abandoned).
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        let result = self.push_inner(frame);
        if result.is_err() {
            self.current = None;
        }
        result
    }

    fn push_inner(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        if frame.len() > self.max_frame {
            return Err(FrameError::FrameTooLarge { len: frame.len(), max: self.max_frame });
        }
        let (Some(&b0), Some(&id), Some(field), Some(data)) =
            (frame.first(), frame.get(1), frame.get(2..HEADER_LEN), frame.get(HEADER_LEN..))
        else {
            return Err(FrameError::Truncated { len: frame.len() });
        };
        if data.is_empty() {
            return Err(FrameError::Truncated { len: frame.len() });
        }
        let kind = MessageKind::from_bits(b0 & !FIRST).ok_or(FrameError::UnknownKind(b0 & !FIRST))?;
        if kind != self.kind {
            return Err(FrameError::UnexpectedKind { expected: self.kind, got: kind });
        }
        let field = (field[0] as usize) << 16 | (field[1] as usize) << 8 | field[2] as usize;
        if b0 & FIRST != 0 {
            if let Some(c) = &self.current {
                return Err(FrameError::Interleaved { in_progress: c.id });
            }
            let total = field;
            if total > self.max_len {
                return Err(FrameError::MessageTooLarge { len: total, max: self.max_len });
            }
            if data.len() > total {
                return Err(FrameError::PastEnd { total });
            }
            if data.len() == total {
                return Ok(Some(data.to_vec()));
            }
            let mut buf = Vec::with_capacity(data.len().max(self.max_frame).min(total));
            buf.extend_from_slice(data);
            self.current = Some(InProgress { id, total, data: buf });
            return Ok(None);
        }
        let Some(c) = self.current.as_mut() else {
            return Err(FrameError::NoMessageInProgress);
        };
        if id != c.id {
            return Err(FrameError::WrongMessageId { expected: c.id, got: id });
        }
        let offset = field;
        let received = c.data.len();
        if offset < received {
            return Err(FrameError::Duplicate { offset, received });
        }
        if offset > received {
            return Err(FrameError::Missing { offset, received });
        }
        if received + data.len() > c.total {
            return Err(FrameError::PastEnd { total: c.total });
        }
        c.data.extend_from_slice(data);
        if c.data.len() == c.total {
            return Ok(self.current.take().map(|c| c.data));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_reassemble_at_every_mtu() {
        let message: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        assert_eq!(max_frame_len(517), Ok(512), "GATT's attribute value bound, not 517 - 3");
        for mtu in MIN_MTU..=MAX_MTU {
            let frames = split(MessageKind::Request, 9, &message, mtu).unwrap();
            assert!(frames.iter().all(|f| f.len() <= MAX_ATTRIBUTE_VALUE && f.len() <= mtu - ATT_OVERHEAD));
            assert_eq!(frames.len(), frame_count(message.len(), mtu).unwrap());
            let mut r = Reassembler::new(MessageKind::Request, 2000, mtu - 3);
            let mut out = None;
            for (i, f) in frames.iter().enumerate() {
                assert!(f.len() <= mtu - 3);
                let got = r.push(f).unwrap();
                assert_eq!(got.is_some(), i + 1 == frames.len());
                out = got.or(out);
            }
            assert_eq!(out.as_deref(), Some(&message[..]));
        }
    }

    #[test]
    fn claimed_length_above_bound_is_refused_before_buffering() {
        let frame = [FIRST | 2, 0, 0xFF, 0xFF, 0xFF, 1, 2, 3];
        let mut r = Reassembler::new(MessageKind::Request, MAX_MESSAGE_LEN, 514);
        assert!(matches!(r.push(&frame), Err(FrameError::MessageTooLarge { .. })));
        assert_eq!(r.buffered(), 0);
    }
}
