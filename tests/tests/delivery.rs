//! Delivery sessions end to end: a phone carrying a door's pending update hands it over
//! without unlocking (nothing opens, nothing is logged), its receipt reaches Mission Control,
//! which marks the update delivered, and the revoked key is refused there.

use keyway_api::TaskState;
use keyway_e2e::*;
use keyway_protocol::credential::DenialReason;
use keyway_wallet::WalletError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_phone_delivers_a_revocation_without_opening_the_door() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let (_, t) = backend.invite(&p.manager, app_invite("Ann", &[p.front.id, p.garage.id], None, None, true)).await;
    let mut ann = phone(dir.path(), "ann");
    ann.accept_invite(&backend.base, &t).await.unwrap();
    let (carl_invite, t) = backend.invite(&p.manager, app_invite("Carl", &[p.garage.id], None, None, false)).await;
    let mut carl = phone(dir.path(), "carl");
    carl.accept_invite(&backend.base, &t).await.unwrap();
    assert!(unlock(&mut carl, &p.garage).granted);
    assert_eq!(ann.pending_deliveries().unwrap(), vec![]);
    let err = ann.deliver(p.garage.id, &mut p.garage.connect()).unwrap_err();
    assert!(matches!(err, WalletError::NothingToDeliver(_)), "{err}");

    // Carl's keys are revoked; Ann's next sync brings the Garage's update.
    p.manager.revoke_all_keys(carl_invite.person.person_id).await.unwrap();
    ann.sync().await.unwrap();
    assert_eq!(ann.pending_deliveries().unwrap(), vec![p.garage.id]);
    let head = p.garage.engine.lock().unwrap().activity().head();
    let report = ann.deliver(p.garage.id, &mut p.garage.connect()).unwrap();
    assert!(report.admitted && report.updates_applied, "{report:?}");
    assert_eq!((report.seq_before, report.seq_after), (0, 1));
    assert_eq!(p.garage.engine.lock().unwrap().activity().head(), head, "nothing opened, nothing logged");
    assert_eq!(ann.pending_deliveries().unwrap(), vec![], "the receipt shows it applied");

    ann.upload().await.unwrap();
    let tasks = backend.tasks(&p.manager, p.garage.id).await;
    assert!(tasks.iter().all(|t| t.state == TaskState::Delivered), "{tasks:?}");
    let r = unlock(&mut carl, &p.garage);
    assert_eq!((r.granted, r.denial), (false, Some(DenialReason::RevokedKey)));
}
