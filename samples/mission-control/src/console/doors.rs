//! Doors, the door update tasks, Activity (filters by door and person, deleted people's past
//! activity included) and the welcome messages of the outbox.

use super::{Console, Ctx, Menu, PageResult, Visit, layout, ok_page, show_time};
use crate::error::AppResult;
use axum::extract::{Path, Query, State};
use keyway_api::{ActivityEntry, ActivityQuery, DoorInfo, DoorUpdateQuery, DoorUpdateTask, TaskState};
use keyway_protocol::credential::{ActivityEvent, DoorId, DoorOp, PersonId};
use maud::{Markup, html};
use rusqlite::Transaction;
use serde::Deserialize;
use std::collections::HashMap;

/// A connected door whose feed was heard from within this many seconds is shown online.
pub const ONLINE_WITHIN_SECS: u64 = 90;

/// Names of the property's people (deleted ones too), to put door updates in words.
pub struct OpNames {
    people: HashMap<u64, (String, bool)>,
}

impl OpNames {
    pub fn load(tx: &Transaction, property_id: i64) -> AppResult<OpNames> {
        Ok(OpNames {
            people: crate::people::names(tx, property_id)?.into_iter().map(|(id, n, d)| (id, (n, d))).collect(),
        })
    }

    fn person(&self, p: PersonId) -> String {
        match self.people.get(&p.0) {
            Some((name, false)) => name.clone(),
            Some((name, true)) => format!("{name} (deleted)"),
            None => format!("person {}", p.0),
        }
    }
}

/// One door operation in words.
fn op_text(ctx: &Ctx, op: &DoorOp, names: &OpNames) -> String {
    let t = |t| show_time(t, ctx.offset);
    match op {
        DoorOp::RevokeKey { key, until } => format!("revoke key {key} (kept until {})", t(*until)),
        DoorOp::RevokePerson { person, until } => {
            format!("revoke {} and their guests (kept until {})", names.person(*person), t(*until))
        }
        DoorOp::AddDoorcode { slot, person, validity } => format!(
            "add doorcode slot {slot} for {} ({} to {})",
            names.person(*person),
            t(validity.start),
            t(validity.expiry)
        ),
        DoorOp::RemoveDoorcode { slot } => format!("remove doorcode slot {slot}"),
        DoorOp::AddKeycardV1 { person, .. } | DoorOp::AddKeycard { person, .. } => {
            format!("add a keycard for {}", names.person(*person))
        }
        DoorOp::RemoveKeycard { .. } => "remove a keycard".into(),
        DoorOp::SetClock { now } => format!("set the clock to {}", t(*now)),
        DoorOp::PruneRevocations { before } => format!("drop revocations that lapsed before {}", t(*before)),
        DoorOp::SetUtcOffset { minutes } => format!("set the local time to {}", super::offset_label(*minutes)),
        DoorOp::RevokeDevice { device, .. } => format!("refuse the lost phone {device}"),
        DoorOp::TrustAuthority { .. } => "trust the property's new authority key".into(),
        DoorOp::RetireAuthority { .. } => "retire the property's old authority key".into(),
        #[allow(unreachable_patterns)]
        _ => "another door update".into(),
    }
}

fn state_cell(ctx: &Ctx, task: &DoorUpdateTask) -> Markup {
    html! {
        @match task.state {
            TaskState::Pending => { span.state.pending { "pending" } }
            TaskState::Delivered => {
                span.state.delivered { "delivered" }
                @if let Some(at) = task.receipt_door_time { " · door's signed receipt " (show_time(at, ctx.offset)) }
                @if let Some(at) = task.delivered_at {
                    " · received " (show_time(at, ctx.offset))
                    " · took " (took(at.0.saturating_sub(task.created_at.0)))
                }
            }
            TaskState::Rejected => {
                span.state.rejected { "rejected" }
                ": " (task.rejection.as_deref().unwrap_or("the door refused it"))
            }
        }
    }
}

fn took(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs / 60 % 60),
        _ => format!("{} days", secs / 86_400),
    }
}

/// Door update tasks as a table (one row per update of a door's log).
pub fn task_table(ctx: &Ctx, tasks: &[DoorUpdateTask], names: &OpNames) -> Markup {
    html! {
        @if tasks.is_empty() { p.hint { "No door update tasks." } }
        @else {
            table.tasks {
                thead { tr { th { "Door" } th { "Update" } th { "What the door learns" } th { "Queued" } th { "State" } } }
                tbody {
                    @for task in tasks {
                        tr data-door=(task.door_id.0) data-seq=(task.seq) data-state=(format!("{:?}", task.state).to_lowercase()) {
                            td { a href=(ctx.url(&format!("/door-updates?door_id={}", task.door_id.0))) { (task.door_name) } }
                            td { "#" (task.seq) }
                            td { ul.ops { @for op in &task.ops { li { (op_text(ctx, op, names)) } } } }
                            td { (show_time(task.created_at, ctx.offset)) }
                            td { (state_cell(ctx, task)) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /p/{pid}/doors`.
pub async fn list(State(st): State<Console>, visit: Visit, Path(pid): Path<i64>) -> PageResult {
    let (ctx, doors) = st.view(&visit, pid, |tx, m, _| crate::provisioning::list_doors(tx, m.property_id)).await?;
    let now = keyway_api::clock::now();
    let connection = |d: &DoorInfo| match (d.online, d.feed_seen_at) {
        (false, _) => html! { "offline door " span.hint { "(phones carry its updates)" } },
        (true, Some(seen)) if now.0.saturating_sub(seen.0) <= ONLINE_WITHIN_SECS => {
            html! { span.state.delivered { "online" } }
        }
        (true, _) => {
            html! { span.state.pending { "offline" } " " span.hint { "(internet-connected, feed not heard)" } }
        }
    };
    let body = html! {
        h1 { "Doors" }
        table.doors {
            thead { tr { th { "Door" } th { "Connection" } th { "Last seen" } th { "Update seq" } th { "Delivered seq" }
                th { "Door's own seq" } th { "Clock drift" } th { "" } } }
            tbody {
                @for d in &doors {
                    tr data-door=(d.door_id.0) {
                        td { (d.name) }
                        td { (connection(d)) }
                        td { @if let Some(t) = d.feed_seen_at { (show_time(t, ctx.offset)) } @else { "—" } }
                        td.log-head { (d.log_head) }
                        td.delivered { (d.delivered_seq) }
                        td { (d.reported_seq) @if let Some(t) = d.diverged_at { " · restored log found behind the door " (show_time(t, ctx.offset)) } }
                        td { @match d.clock_offset_secs { Some(s) => { (s) " s" } None => { "—" } } }
                        td {
                            a href=(ctx.url(&format!("/door-updates?door_id={}", d.door_id.0))) { "Door update tasks" }
                            " · "
                            a href=(ctx.url(&format!("/activity?door_id={}", d.door_id.0))) { "Activity" }
                        }
                    }
                }
            }
        }
        @if doors.is_empty() { p.hint { "No doors yet: a Portfolio Manager provisions them (POST /v1/doors)." } }
    };
    Ok(ok_page(layout(&ctx, "Doors", Menu::Doors, body)))
}

#[derive(Deserialize, Default)]
pub struct TaskParams {
    #[serde(default)]
    door_id: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

fn some_number<T: std::str::FromStr>(v: &Option<String>) -> Option<T> {
    v.as_deref().filter(|s| !s.is_empty()).and_then(|s| s.parse().ok())
}

/// `GET /p/{pid}/door-updates?door_id=&state=`: [`crate::updates::tasks`].
// `..Default::default()`: the query types may grow paging fields the console leaves unset.
#[allow(clippy::needless_update)]
pub async fn tasks(
    State(st): State<Console>,
    visit: Visit,
    Path(pid): Path<i64>,
    Query(params): Query<TaskParams>,
) -> PageResult {
    let door = some_number::<u32>(&params.door_id).map(DoorId);
    let state = match params.state.as_deref() {
        Some("pending") => Some(TaskState::Pending),
        Some("delivered") => Some(TaskState::Delivered),
        Some("rejected") => Some(TaskState::Rejected),
        _ => None,
    };
    let (ctx, (tasks, names, doors)) = st
        .view(&visit, pid, move |tx, m, _| {
            let tasks = crate::updates::tasks(
                tx,
                m.property_id,
                &DoorUpdateQuery { door_id: door, state, ..Default::default() },
            )?;
            Ok((tasks, OpNames::load(tx, m.property_id)?, crate::provisioning::list_doors(tx, m.property_id)?))
        })
        .await?;
    let body = html! {
        h1 { "Door update tasks" }
        p.hint { "Every change an offline door must learn. Pending until a phone (or the door's feed) carries it and "
            "the door's signed receipt comes back; rejected with the door's own reason." }
        form.search method="get" action=(ctx.url("/door-updates")) {
            label { "Door " select name="door_id" {
                option value="" { "All doors" }
                @for d in &doors { option value=(d.door_id.0) selected[door == Some(d.door_id)] { (d.name) } }
            } }
            label { "State " select name="state" {
                option value="" { "All" }
                @for (v, label) in [("pending", "Pending"), ("delivered", "Delivered"), ("rejected", "Rejected")] {
                    option value=(v) selected[params.state.as_deref() == Some(v)] { (label) }
                }
            } }
            button type="submit" { "Show" }
        }
        (task_table(&ctx, &tasks, &names))
    };
    Ok(ok_page(layout(&ctx, "Door update tasks", Menu::DoorUpdates, body)))
}

/// An activity record in words.
fn event_text(e: &ActivityEntry) -> String {
    let who = || e.who.clone().or_else(|| e.person_name.clone()).unwrap_or_else(|| "an unknown person".into());
    match &e.event {
        ActivityEvent::AppUnlock { key, guest: true, .. } => format!("{}: app unlock (guest key {key})", who()),
        ActivityEvent::AppUnlock { key, .. } => format!("{}: app unlock (key {key})", who()),
        ActivityEvent::AppDenied { reason, person: Some(_), .. } => format!("{}: app refused ({reason:?})", who()),
        ActivityEvent::AppDenied { reason, .. } => format!("an unknown credential: app refused ({reason:?})"),
        ActivityEvent::DoorcodeEntry { slot, .. } => format!("{}: doorcode entry (slot {slot})", who()),
        ActivityEvent::DoorcodeDenied { reason } => format!("doorcode refused ({reason:?})"),
        ActivityEvent::KeycardEntry { .. } => format!("{}: keycard entry (UID only)", who()),
        ActivityEvent::SecureKeycardEntry { .. } => format!("{}: secure keycard entry", who()),
        ActivityEvent::KeycardDenied { reason, .. } => format!("keycard refused ({reason:?})"),
        ActivityEvent::UpdateRejected { seq, reason } => format!("the door refused update #{seq} ({reason:?})"),
        ActivityEvent::ClockSet { before, after } => format!("the door's clock was set from {before} to {after}"),
        ActivityEvent::DeniedRepeatedly { channel, reason, count, first } => {
            format!("an unknown credential: {count} {channel:?} refusals ({reason:?}) since {first}")
        }
        ActivityEvent::RecordsDropped { count } => {
            format!("gap: the door dropped {count} records before any phone brought them back")
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ActivityParams {
    #[serde(default)]
    door_id: Option<String>,
    #[serde(default)]
    person_id: Option<String>,
}

/// `GET /p/{pid}/activity?door_id=&person_id=`: [`crate::history::activity`], newest first.
// `..Default::default()`: the query types may grow paging fields the console leaves unset.
#[allow(clippy::needless_update)]
pub async fn activity(
    State(st): State<Console>,
    visit: Visit,
    Path(pid): Path<i64>,
    Query(params): Query<ActivityParams>,
) -> PageResult {
    let door = some_number::<u32>(&params.door_id).map(DoorId);
    let person = some_number::<u64>(&params.person_id).map(PersonId);
    let (ctx, (mut entries, doors, people)) = st
        .view(&visit, pid, move |tx, m, _| {
            let entries = crate::history::activity(
                tx,
                m.property_id,
                &ActivityQuery { door_id: door, person_id: person, ..Default::default() },
            )?;
            Ok((entries, crate::provisioning::list_doors(tx, m.property_id)?, crate::people::names(tx, m.property_id)?))
        })
        .await?;
    entries.reverse();
    let body = html! {
        h1 { "Activity" }
        form.search method="get" action=(ctx.url("/activity")) {
            label { "Door " select name="door_id" {
                option value="" { "All doors" }
                @for d in &doors { option value=(d.door_id.0) selected[door == Some(d.door_id)] { (d.name) } }
            } }
            label { "Person " select name="person_id" {
                option value="" { "Everyone" }
                @for (id, name, deleted) in &people {
                    option value=(id) selected[person == Some(PersonId(*id))] { (name) @if *deleted { " (deleted)" } }
                }
            } }
            button type="submit" { "Show" }
        }
        @if entries.is_empty() { p.hint { "No activity yet: doors report it in the receipts phones and feeds bring back." } }
        @else {
            table.activity {
                thead { tr { th { "When (door's clock)" } th { "Door" } th { "What happened" } th { "Reported" } } }
                tbody {
                    @for e in &entries {
                        tr data-door=(e.door_id.0) data-person=[e.person_id.map(|p| p.0)] {
                            td { (show_time(e.time, ctx.offset)) }
                            td { (e.door_name) }
                            td { (event_text(e)) }
                            td { (show_time(e.received_at, ctx.offset)) }
                        }
                    }
                }
            }
        }
    };
    Ok(ok_page(layout(&ctx, "Activity", Menu::Activity, body)))
}

/// `GET /p/{pid}/outbox`: the welcome messages ([`crate::history::outbox`], Key Management).
pub async fn outbox(State(st): State<Console>, visit: Visit, Path(pid): Path<i64>) -> PageResult {
    let (ctx, messages) = st
        .view(&visit, pid, |tx, m, _| if m.key_management { crate::history::outbox(tx, m).map(Some) } else { Ok(None) })
        .await?;
    let body = html! {
        h1 { "Welcome messages" }
        p.hint { "What Mission Control sends each invited person (email or text). A code disappears once used." }
        @match &messages {
            None => { p.needs-km { (super::NEEDS_KEY_MANAGEMENT) } }
            Some(messages) => {
                @for m in messages.iter().rev() {
                    article.message data-person=(m.person_id.0) {
                        h3 { (m.subject) }
                        p.hint { "To " (m.to) " · " (show_time(m.created_at, ctx.offset)) }
                        pre { (m.body) }
                    }
                }
                @if messages.is_empty() { p.hint { "No welcome messages yet." } }
            }
        }
    };
    Ok(ok_page(layout(&ctx, "Welcome messages", Menu::Outbox, body)))
}
