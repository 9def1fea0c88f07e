//! The Keyway trust core end to end, as a narrative: a property authority vouches for a door,
//! issues a resident's key, the resident shares a guest key, the door checks both, refuses a
//! guest key wider than its parent and, after a signed door-update batch revokes the
//! resident's key, refuses the guest too. Daily doorcodes close the tour.
//!
//! Run with `cargo run -p keyway-core --example trust_core`. Exits non-zero if anything the
//! narrative states does not hold.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::{
    ChainError, DenialReason, DoorCertBody, DoorCertificate, DoorId, DoorOp, DoorSet, DoorUpdate, DoorcodeSecret,
    GuestKey, GuestKeyBody, KeyCertBody, KeyCertificate, KeyChain, KeyFlags, KeyId, KeyPair, PersonId, RevocationCheck,
    RevokedWhat, TrustAnchors, UpdateBatch, UpdateBatchBody, Validity,
};
use std::process::ExitCode;

const DAY: u64 = 86_400;
/// The property's offset east of UTC (Central European Time).
const UTC_OFFSET_MINUTES: i16 = 60;

/// Collects the narrative's expectations; any failure makes the program exit non-zero.
#[derive(Default)]
struct Expectations {
    failed: Vec<String>,
}

impl Expectations {
    fn check(&mut self, what: &str, ok: bool) {
        println!("    [{}] {what}", if ok { "ok" } else { "FAILED" });
        if !ok {
            self.failed.push(what.to_owned());
        }
    }
}

/// The revocations a door has learned from door updates.
#[derive(Default)]
struct DoorRevocations {
    keys: Vec<KeyId>,
    persons: Vec<PersonId>,
}

impl RevocationCheck for DoorRevocations {
    fn key_revoked(&self, key: KeyId) -> bool {
        self.keys.contains(&key)
    }
    fn person_revoked(&self, person: PersonId) -> bool {
        self.persons.contains(&person)
    }
}

fn door_set(ids: &[u32]) -> Option<DoorSet> {
    DoorSet::new(ids.iter().copied().map(DoorId).collect())
}

fn describe(result: &Result<keyway_protocol::credential::VerifiedChain, ChainError>) -> String {
    match result {
        Ok(v) => format!("opens (key {}, person {}, guest: {})", v.key_id, v.person_id.0, v.is_guest),
        Err(e) => format!("refused: {e} (logged as {:?})", DenialReason::from(e)),
    }
}

fn run(x: &mut Expectations) -> Option<()> {
    let now = UnixTime(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    println!("Keyway trust core, {now}\n");

    println!("1. The property authority and the front door");
    let authority = KeyPair::generate();
    let anchors = TrustAnchors::new([authority.public()]);
    let issuer = keyway_protocol::credential::AuthorityKeyId::of(&authority.public().0);
    let front = DoorId(1042);
    let door_key = KeyPair::generate();
    let door_cert = DoorCertificate::sign(DoorCertBody::new(front, door_key.public(), issuer), &authority);
    println!("    authority key {}", authority.public().to_hex());
    println!("    door certificate for {front}: {} bytes", door_cert.to_bytes().len());
    let decoded = DoorCertificate::from_bytes(&door_cert.to_bytes()).ok()?;
    x.check("the door certificate decodes and names the door's key", decoded.verify(&anchors) == Ok(door_key.public()));

    println!("\n2. A resident's key for 4 doors, valid for a year, shareable");
    let phone = KeyPair::generate();
    let year = Validity::new(now.saturating_sub_secs(DAY), now.saturating_add_secs(365 * DAY))?;
    let resident_cert = KeyCertificate::sign(
        KeyCertBody::new(
            KeyId(4_000_000_001),
            PersonId(90_210),
            phone.public(),
            door_set(&[17, 1042, 65_000, 100_000])?,
            year,
            KeyFlags { resident: true, may_share: true },
            issuer,
        ),
        &authority,
    );
    let resident_chain = KeyChain::resident(resident_cert.clone());
    println!("    key certificate: {} bytes (target: at most 160)", resident_cert.to_bytes().len());
    println!("    resident key chain: {} bytes", resident_chain.to_bytes().len());
    x.check("the resident key certificate fits in 160 bytes", resident_cert.to_bytes().len() <= 160);
    let at_door = KeyChain::from_bytes(&resident_chain.to_bytes()).ok()?;
    let result = at_door.verify_for_door(&anchors, front, now, &DoorRevocations::default());
    println!("    at {front}: {}", describe(&result));
    x.check("the resident's chain opens the front door", result.is_ok());
    let result = at_door.verify_for_door(&anchors, DoorId(1043), now, &DoorRevocations::default());
    println!("    at door-1043: {}", describe(&result));
    x.check("and not a neighbour's door", matches!(result, Err(ChainError::WrongDoor { .. })));

    println!("\n3. The resident shares a guest key: front door and garage, for the weekend");
    let guest_phone = KeyPair::generate();
    let weekend = Validity::new(now.saturating_sub_secs(3600), now.saturating_add_secs(2 * DAY))?;
    let guest_key = GuestKey::sign(
        GuestKeyBody::new(
            KeyId::random_guest(),
            resident_cert.body.key_id,
            guest_phone.public(),
            door_set(&[1042, 100_000])?,
            weekend,
        ),
        &phone,
    );
    let guest_chain = KeyChain::guest(resident_cert.clone(), guest_key.clone());
    println!(
        "    guest key: {} bytes (target: at most 160); guest key chain: {} bytes",
        guest_key.to_bytes().len(),
        guest_chain.to_bytes().len()
    );
    x.check("the guest key fits in 160 bytes", guest_key.to_bytes().len() <= 160);
    let at_door = KeyChain::from_bytes(&guest_chain.to_bytes()).ok()?;
    let result = at_door.verify_for_door(&anchors, front, now, &DoorRevocations::default());
    println!("    at {front}: {}", describe(&result));
    x.check(
        "the guest's chain opens the front door, for the guest's phone",
        result.as_ref().is_ok_and(|v| v.is_guest && v.holder == guest_phone.public()),
    );
    let result = at_door.verify_for_door(&anchors, DoorId(65_000), now, &DoorRevocations::default());
    println!("    at door-65000 (the gym, not shared): {}", describe(&result));
    x.check("the guest cannot open the gym", matches!(result, Err(ChainError::WrongDoor { .. })));

    println!("\n4. A guest key wider than its parent");
    let too_long = Validity::new(now, now.saturating_add_secs(400 * DAY))?;
    let wider = GuestKey::sign(
        GuestKeyBody::new(
            KeyId::random_guest(),
            resident_cert.body.key_id,
            guest_phone.public(),
            door_set(&[1042])?,
            too_long,
        ),
        &phone,
    );
    let result = KeyChain::guest(resident_cert.clone(), wider).verify_for_door(
        &anchors,
        front,
        now,
        &DoorRevocations::default(),
    );
    println!("    valid for 400 days under a 1-year key: {}", describe(&result));
    x.check("a guest key outliving its parent is refused", matches!(result, Err(ChainError::GuestScopeWider { .. })));

    println!("\n5. The manager revokes the resident's key: a signed door-update batch");
    let revoke = DoorUpdate::new(vec![DoorOp::RevokeKey { key: resident_cert.body.key_id, until: year.expiry }])?;
    let doorcode_slot =
        DoorUpdate::new(vec![DoorOp::AddDoorcode { slot: 12, person: PersonId(90_210), validity: year }])?;
    let batch =
        UpdateBatch::sign(UpdateBatchBody::new(front, 41, now, issuer, vec![doorcode_slot, revoke])?, &authority);
    println!(
        "    batch of {} updates, seqs {}..={}: {} bytes",
        batch.body.updates.len(),
        batch.body.first_seq,
        batch.body.last_seq(),
        batch.to_bytes().len()
    );
    let carried = UpdateBatch::from_bytes(&batch.to_bytes()).ok()?;
    x.check("the door accepts the batch for itself", carried.verify_for(&anchors, front).is_ok());
    x.check("and a door it was not meant for refuses it", carried.verify_for(&anchors, DoorId(17)).is_err());
    let mut forged = carried.clone();
    forged.body.first_seq = 1;
    x.check(
        "a batch altered in transit is refused",
        matches!(forged.verify_for(&anchors, front), Err(ChainError::BadSignature { .. })),
    );
    let mut revocations = DoorRevocations::default();
    for (seq, update) in carried.body.numbered() {
        for op in update.ops.iter() {
            println!("    applying seq {seq}: {op:?}");
            match op {
                DoorOp::RevokeKey { key, .. } => revocations.keys.push(*key),
                DoorOp::RevokePerson { person, .. } => revocations.persons.push(*person),
                _ => {}
            }
        }
    }
    let result = guest_chain.verify_for_door(&anchors, front, now, &revocations);
    println!("    the guest at {front}: {}", describe(&result));
    x.check(
        "the guest falls with the revoked parent",
        result == Err(ChainError::Revoked(RevokedWhat::Key(resident_cert.body.key_id))),
    );
    let result = resident_chain.verify_for_door(&anchors, front, now, &revocations);
    println!("    the resident at {front}: {}", describe(&result));
    x.check("and so does the resident", matches!(result, Err(ChainError::Revoked(_))));

    println!("\n6. Daily doorcodes (slot 12, property at UTC+1)");
    let secret = DoorcodeSecret::generate();
    let today = secret.code_at(12, now, UTC_OFFSET_MINUTES);
    let tomorrow = secret.code_at(12, now.saturating_add_secs(DAY), UTC_OFFSET_MINUTES);
    println!("    today's code:    {today}");
    println!("    tomorrow's code: {tomorrow}");
    x.check("today's and tomorrow's codes differ", !today.matches(tomorrow));
    x.check("the code is 10 digits", today.to_string().len() == 10 && tomorrow.to_string().len() == 10);
    x.check(
        "the code typed at the keypad parses back",
        keyway_protocol::credential::Doorcode::parse(&today.to_string()) == Some(today),
    );
    Some(())
}

fn main() -> ExitCode {
    let mut x = Expectations::default();
    if run(&mut x).is_none() {
        x.failed.push("building the narrative's credentials".into());
    }
    if x.failed.is_empty() {
        println!("\nEvery expectation held.");
        ExitCode::SUCCESS
    } else {
        eprintln!("\n{} expectation(s) failed: {:?}", x.failed.len(), x.failed);
        ExitCode::FAILURE
    }
}
