//! Authority key rotation: a statement, signed by the authority key being replaced, that names
//! its successor.
//!
//! A phone that trusts the old key learns the new one only through such a statement (a sync
//! answer that names an authority key nobody it trusts vouched for is refused whole). Doors
//! learn it through an authority-signed door update ([`super::DoorOp::TrustAuthority`]) and drop
//! the old key through another ([`super::DoorOp::RetireAuthority`]), so nothing is
//! re-provisioned: the backend keeps signing with the old key until every door has the new
//! one, then switches and re-issues what it had signed.

use super::chain::TrustAnchors;
use super::error::ChainError;
use super::ids::AuthorityKeyId;
use super::keys::PublicKey;
use super::label;
use super::signed::{Signed, SignedBody};
use crate::UnixTime;
use serde::{Deserialize, Serialize};

/// Most rotation statements a sync answer carries (older ones than that are not needed: a
/// phone that missed this many rotations has been offline for years and re-enrols).
pub const MAX_ROTATIONS: usize = 8;

/// What the replaced key states: `new` succeeds `old` from `issued` on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityRotationBody {
    /// Format version, always [`AuthorityRotationBody::VERSION`].
    pub version: u8,
    /// The key being replaced; it signs this statement.
    pub old: AuthorityKeyId,
    /// Its successor.
    pub new: PublicKey,
    /// When the rotation was started.
    pub issued: UnixTime,
}

impl SignedBody for AuthorityRotationBody {
    const LABEL: &'static [u8] = label::AUTHORITY_ROTATION;
    const WHAT: &'static str = "authority rotation";
    const VERSION: u8 = 1;
    /// Version, old key id, new key, issued (varint), signature.
    const MAX_LEN: usize = 1 + 8 + 32 + 10 + 64;
}

/// An [`AuthorityRotationBody`] signed by the key it replaces.
pub type AuthorityRotation = Signed<AuthorityRotationBody>;

impl AuthorityRotationBody {
    /// `old`'s statement that `new` succeeds it.
    pub fn new(old: AuthorityKeyId, new: PublicKey, issued: UnixTime) -> Self {
        AuthorityRotationBody { version: Self::VERSION, old, new, issued }
    }
}

impl AuthorityRotation {
    /// Checks the version, that the replaced key is in `trusted` and signed the statement, and
    /// that the successor is a usable key other than the replaced one; returns the successor.
    pub fn verify(&self, trusted: &TrustAnchors) -> Result<PublicKey, ChainError> {
        let what = AuthorityRotationBody::WHAT;
        if self.body.version != AuthorityRotationBody::VERSION {
            return Err(ChainError::UnsupportedVersion { what, found: self.body.version });
        }
        let old = trusted.get(self.body.old).ok_or(ChainError::UnknownIssuer { what })?;
        self.verify_signature(&old)?;
        if !self.body.new.is_acceptable() || AuthorityKeyId::of(&self.body.new.0) == self.body.old {
            return Err(ChainError::WeakKey { what });
        }
        Ok(self.body.new)
    }

    /// `trusted` and every successor the statements vouch for, following chains of rotations
    /// (old → new → newer) in any order. Statements whose signer is not reachable from
    /// `trusted`, or that do not verify, add nothing.
    pub fn reachable(trusted: &TrustAnchors, rotations: &[AuthorityRotation]) -> TrustAnchors {
        let mut reached = trusted.clone();
        loop {
            let before = reached.keys().count();
            for r in rotations {
                if let Ok(new) = r.verify(&reached) {
                    reached.add(new);
                }
            }
            if reached.keys().count() == before {
                return reached;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::KeyPair;

    fn id(k: &KeyPair) -> AuthorityKeyId {
        AuthorityKeyId::of(&k.public().0)
    }

    #[test]
    fn only_a_trusted_key_can_name_its_successor() {
        let [a, b, c, stranger] = [1u8, 2, 3, 4].map(|i| KeyPair::from_secret(&[i; 32]));
        let trusted = TrustAnchors::new([a.public()]);
        let a_to_b = AuthorityRotation::sign(AuthorityRotationBody::new(id(&a), b.public(), UnixTime(10)), &a);
        let b_to_c = AuthorityRotation::sign(AuthorityRotationBody::new(id(&b), c.public(), UnixTime(20)), &b);
        assert_eq!(a_to_b.verify(&trusted), Ok(b.public()));
        // A chain given newest first still reaches the end.
        let reached = AuthorityRotation::reachable(&trusted, &[b_to_c.clone(), a_to_b.clone()]);
        assert!(reached.get(id(&c)).is_some() && reached.get(id(&b)).is_some());
        // A statement signed by a key nobody trusts, or claiming a trusted key it was not signed
        // by, adds nothing.
        let forged = AuthorityRotation::sign(AuthorityRotationBody::new(id(&a), stranger.public(), UnixTime(30)), &b);
        let foreign = AuthorityRotation::sign(AuthorityRotationBody::new(id(&b), stranger.public(), UnixTime(30)), &b);
        assert!(matches!(forged.verify(&trusted), Err(ChainError::BadSignature { .. })));
        assert!(matches!(foreign.verify(&trusted), Err(ChainError::UnknownIssuer { .. })));
        let reached = AuthorityRotation::reachable(&trusted, &[forged, foreign]);
        assert_eq!(reached.keys().count(), 1);
        // A key cannot name itself.
        let same = AuthorityRotation::sign(AuthorityRotationBody::new(id(&a), a.public(), UnixTime(40)), &a);
        assert!(matches!(same.verify(&trusted), Err(ChainError::WeakKey { .. })));
    }
}
