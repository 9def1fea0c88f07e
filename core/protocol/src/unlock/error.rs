//! Errors of the phone's session state machine (the door's are
//! [`crate::door::DoorSessionError`]).

use super::frame::FrameError;
use crate::codec::DecodeError;
use crate::credential::{ChainError, DoorId};

/// Why the phone side of an unlock failed (the door's own decision is not an error: it arrives
/// as [`super::UnlockOutcome`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The door's frames broke the framing rules (see [`FrameError`]).
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// The door's challenge or result does not decode (bounded, canonical, known version).
    #[error("decoding: {0}")]
    Decode(#[from] DecodeError),
    /// The door certificate in [`super::UnlockParams`] does not verify against the trust
    /// anchors; nothing was sent.
    #[error("the door certificate does not verify: {0}")]
    DoorCertificate(ChainError),
    /// The challenge's signature does not verify with the certified door key: not the door
    /// the phone believes it is talking to.
    #[error("the door's challenge is not signed by the certified door key: {0}")]
    ChallengeSignature(ChainError),
    /// The challenge names another door id than the certificate: the phone is connected to
    /// another door. Checked before the challenge's signature (the id is the door's claim, not
    /// proof of anything); nothing was sent to it.
    #[error("expected {expected}, but the door says it is {got}")]
    WrongDoor {
        /// The door id in the door certificate.
        expected: DoorId,
        /// The door id in the challenge.
        got: DoorId,
    },
    /// The door's offer is a key that contributes nothing to the key agreement (a small-order
    /// point), though signed: nothing was sent.
    #[error("the door offered a key agreement that contributes nothing")]
    WeakOffer,
    /// The result does not open under this session's key: not from the door that made the
    /// offer, or changed on the way.
    #[error("the door's result does not open under this session's key")]
    ResultNotSealed,
    /// The result's receipt does not verify with the certified door key.
    #[error("the receipt is not signed by the door key: {0}")]
    ReceiptSignature(ChainError),
    /// The receipt carries another phone nonce: it belongs to another session (a replay).
    #[error("the receipt is not bound to this session's phone nonce")]
    ReceiptNotBound,
    /// The receipt is signed by the door key but names another door id.
    #[error("the receipt names {got}, not {expected}")]
    ReceiptWrongDoor {
        /// The door id in the door certificate.
        expected: DoorId,
        /// The door id in the receipt.
        got: DoorId,
    },
    /// The receipt's `applied_seq` is lower than the update seq the challenge stated: a door's
    /// seq never goes back.
    #[error("the receipt's update seq {receipt} is below the challenge's {challenge}")]
    ReceiptSeqBackwards {
        /// The update seq stated in the challenge.
        challenge: u64,
        /// The receipt's `applied_seq`.
        receipt: u64,
    },
    /// The unsigned update report's `seq_after` differs from the receipt's `applied_seq`.
    #[error("the door's update report (seq {report}) contradicts its signed receipt (seq {receipt})")]
    ReportMismatch {
        /// The report's `seq_after`.
        report: u64,
        /// The receipt's `applied_seq`.
        receipt: u64,
    },
    /// The unsigned `access` field disagrees with this session's record in the signed receipt.
    #[error("the door's decision over the link contradicts the decision recorded in its signed receipt")]
    DecisionContradictsReceipt,
    /// The request could not be built: the key chain's bytes exceed
    /// [`super::message::MAX_CHAIN_BYTES`].
    #[error("the unlock request could not be built (key chain or batch too large)")]
    RequestTooLarge,
    /// A message arrived (or a step was called) when the session was not waiting for it, e.g.
    /// after it finished or failed.
    #[error("unexpected message in this state of the session")]
    UnexpectedMessage,
}

/// What a failed exchange means for the caller, rustls-style: decided here, where the causes
/// are known, so no layer above needs to know the variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCategory {
    /// The peer could not prove it is the certified door (certificate, challenge or receipt
    /// signature, a receipt naming another door id, a receipt that contradicts the exchange): nothing it said
    /// may be recorded; do not retry with it.
    DoorNotTrusted,
    /// The exchange broke down (garbled, truncated or unexpected messages): retrying may help.
    ExchangeFailed,
    /// The peer is another door than the one asked for (its challenge names another door id):
    /// connect to the right one. Unauthenticated: the peer's claim, checked before anything
    /// else of it.
    WrongDoor,
    /// The caller asked for something the protocol cannot do (a request or batch beyond the
    /// wire bounds): a bug on the calling side.
    ApiMisuse,
}

impl ProtocolError {
    /// The category of this error.
    pub fn category(&self) -> ErrorCategory {
        match self {
            ProtocolError::DoorCertificate(_)
            | ProtocolError::ChallengeSignature(_)
            | ProtocolError::ReceiptSignature(_)
            | ProtocolError::ReceiptNotBound
            | ProtocolError::ReceiptWrongDoor { .. }
            | ProtocolError::ReceiptSeqBackwards { .. }
            | ProtocolError::ReportMismatch { .. }
            | ProtocolError::DecisionContradictsReceipt
            | ProtocolError::WeakOffer
            | ProtocolError::ResultNotSealed => ErrorCategory::DoorNotTrusted,
            ProtocolError::Frame(_) | ProtocolError::Decode(_) | ProtocolError::UnexpectedMessage => {
                ErrorCategory::ExchangeFailed
            }
            ProtocolError::WrongDoor { .. } => ErrorCategory::WrongDoor,
            ProtocolError::RequestTooLarge => ErrorCategory::ApiMisuse,
        }
    }
}
