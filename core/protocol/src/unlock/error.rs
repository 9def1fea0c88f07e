//! Errors of the two session state machines.

#[allow(unused_imports)]
use crate::prelude::*;

use super::frame::FrameError;
use crate::codec::DecodeError;
use crate::credential::{ChainError, DoorId};

/// Why the phone side of an unlock failed (the door's own decision is not an error: it arrives
/// as [`super::UnlockOutcome`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    #[error("decoding: {0}")]
    Decode(#[from] DecodeError),
    #[error("the door certificate does not verify: {0}")]
    DoorCertificate(ChainError),
    #[error("the door's challenge is not signed by the certified door key: {0}")]
    ChallengeSignature(ChainError),
    #[error("expected {expected}, but the door says it is {got}")]
    WrongDoor { expected: DoorId, got: DoorId },
    #[error("the receipt is not signed by the door key: {0}")]
    ReceiptSignature(ChainError),
    #[error("the receipt is not bound to this session's phone nonce")]
    ReceiptNotBound,
    #[error("the receipt names {got}, not {expected}")]
    ReceiptWrongDoor { expected: DoorId, got: DoorId },
    #[error("the receipt's update seq {receipt} is below the challenge's {challenge}")]
    ReceiptSeqBackwards { challenge: u64, receipt: u64 },
    #[error("the door's update report (seq {report}) contradicts its signed receipt (seq {receipt})")]
    ReportMismatch { report: u64, receipt: u64 },
    #[error("the door's decision over the link contradicts the decision recorded in its signed receipt")]
    DecisionContradictsReceipt,
    #[error("the unlock request could not be built (key chain or batch too large)")]
    RequestTooLarge,
    #[error("unexpected message in this state of the session")]
    UnexpectedMessage,
}
