//! People, Invite, a person's Keys tab (add a key, edit an expiration, delete a key; guests;
//! devices), Revoke All Keys and Delete Person with their confirmations, and a person's door
//! update tasks. Every action is the JSON API's own domain function.

use super::doors::{OpNames, task_table};
use super::{
    Console, Ctx, Fields, Menu, PageResult, Visit, csrf_field, form_error, input_time, km_button, layout, ok_page,
    page_with, parse_time, show_time,
};
use crate::access;
use crate::error::{AppError, AppResult};
use crate::people as domain;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use keyway_api::{
    AccessKind, ChangeExpiryRequest, DeleteKeyQuery, DeviceInfo, DoorInfo, DoorUpdateQuery, DoorUpdateTask, Expiry,
    InviteRequest, KeyGrant, KeyInfo, KeyStatus, PersonInfo, PersonStatus,
};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, DoorOp, KeyId};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};

/// People per page of the list.
pub const PER_PAGE: u32 = 50;
/// Key rows on the Invite form (more keys: the person's Keys tab).
const INVITE_KEY_ROWS: usize = 2;

fn door_names(doors: &[DoorInfo]) -> HashMap<DoorId, String> {
    doors.iter().map(|d| (d.door_id, d.name.clone())).collect()
}

fn doors_text(doors: &[DoorId], names: &HashMap<DoorId, String>) -> String {
    doors.iter().map(|d| names.get(d).cloned().unwrap_or_else(|| format!("door {d}"))).collect::<Vec<_>>().join(", ")
}

fn status_text(s: PersonStatus) -> &'static str {
    match s {
        PersonStatus::Active => "active",
        PersonStatus::Upcoming => "upcoming",
        PersonStatus::Expired => "expired",
    }
}

fn key_status_text(s: KeyStatus) -> &'static str {
    match s {
        KeyStatus::Upcoming => "upcoming",
        KeyStatus::Active => "active",
        KeyStatus::Expired => "expired",
        KeyStatus::Revoked => "revoked",
        KeyStatus::Replaced => "replaced",
    }
}

fn access_text(a: AccessKind) -> &'static str {
    match a {
        AccessKind::AppKey => "Keyway App",
        AccessKind::DailyDoorcode => "daily doorcode",
    }
}

// ---- People --------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    show_expired: Option<String>,
}

/// `GET /p/{pid}/people?q=&page=&show_expired=on`.
pub async fn list(
    State(st): State<Console>,
    visit: Visit,
    Path(pid): Path<i64>,
    Query(params): Query<ListParams>,
) -> PageResult {
    let show_expired = params.show_expired.as_deref().is_some_and(|v| v != "off");
    let q = params.q.clone();
    let page = params.page.unwrap_or(1);
    let (ctx, found) = st
        .view(&visit, pid, move |tx, m, now| domain::search(tx, m.property_id, &q, show_expired, page, PER_PAGE, now))
        .await?;
    let pages = found.total.div_ceil(u64::from(PER_PAGE)).max(1);
    let link = |page: u64| {
        let mut url = format!("{}?page={page}", ctx.url("/people"));
        if !params.q.is_empty() {
            url.push_str("&q=");
            url.extend(form_urlencoded::byte_serialize(params.q.as_bytes()));
        }
        if show_expired {
            url.push_str("&show_expired=on");
        }
        url
    };
    let body = html! {
        h1 { "People" }
        form.search method="get" action=(ctx.url("/people")) {
            label for="q" { "Search by name or contact" }
            input #q type="search" name="q" value=(params.q);
            label.check { input type="checkbox" name="show_expired" checked[show_expired]; " Show Expired Users" }
            button type="submit" { "Search" }
        }
        p.count { (found.total) " " @if found.total == 1 { "person" } @else { "people" }
            @if !show_expired { " with active or upcoming access" } }
        table.people {
            thead { tr { th { "Name" } th { "Contact" } th { "Access" } th { "Resident" } th { "Status" } th { "Keys" } } }
            tbody {
                @for p in &found.people {
                    tr data-person=(p.person_id.0) {
                        td { a href=(ctx.url(&format!("/people/{}", p.person_id.0))) { (p.name) } }
                        td { (p.contact) }
                        td { (access_text(p.access)) }
                        td { @if p.resident { "resident" } }
                        td.status { (status_text(p.status)) }
                        td { (p.keys.iter().filter(|k| matches!(k.status, KeyStatus::Active | KeyStatus::Upcoming)).count()) }
                    }
                }
            }
        }
        nav.pages aria-label="Pages" {
            @if u64::from(found.page) > 1 { a rel="prev" href=(link(u64::from(found.page) - 1)) { "← Previous" } }
            span { "Page " (found.page) " of " (pages) }
            @if u64::from(found.page) < pages { a rel="next" href=(link(u64::from(found.page) + 1)) { "Next →" } }
        }
        p { a.button href=(ctx.url("/invite")) { "Invite" } }
    };
    Ok(ok_page(layout(&ctx, "People", Menu::People, body)))
}

// ---- Invite --------------------------------------------------------------------------------

/// The key rows of a form: doors (checkboxes), start, expiration and "no expiration".
fn key_fields(ctx: &Ctx, prefix: &str, doors: &[DoorInfo], form: Option<&Fields>) -> Markup {
    let chosen: Vec<&str> = form.map(|f| f.all(&format!("{prefix}door"))).unwrap_or_default();
    let value = |name: &str| form.map(|f| f.text(&format!("{prefix}{name}")).to_string()).unwrap_or_default();
    let never = form.is_some_and(|f| f.checked(&format!("{prefix}never")));
    html! {
        fieldset.doors {
            legend { "Doors" }
            @if doors.is_empty() { p.hint { "This property has no doors yet." } }
            @for d in doors {
                label.check {
                    input type="checkbox" name={(prefix) "door"} value=(d.door_id.0) checked[chosen.contains(&d.door_id.0.to_string().as_str())];
                    " " (d.name)
                }
            }
        }
        div.row {
            label { "Start time" input type="datetime-local" name={(prefix) "start"} value=(value("start")); }
            label { "Expiration" input type="datetime-local" name={(prefix) "expiry"} value=(value("expiry")); }
            label.check { input type="checkbox" name={(prefix) "never"} checked[never]; " No expiration" }
        }
        p.hint { "An expiration is recommended: a key without one opens until it is revoked. "
            "An empty start time means now (" (super::offset_label(ctx.offset)) ")." }
    }
}

/// A key row of a form as a grant; `Ok(None)` for a row left empty (when `optional`).
fn grant_from(fields: &Fields, prefix: &str, label: &str, offset: i16, optional: bool) -> AppResult<Option<KeyGrant>> {
    let doors = fields
        .all(&format!("{prefix}door"))
        .iter()
        .map(|d| {
            d.parse::<u32>().map(DoorId).map_err(|_| AppError::bad_request(format!("{label}: unknown door {d:?}")))
        })
        .collect::<AppResult<Vec<_>>>()?;
    let start = parse_time(&format!("{label} start time"), fields.text(&format!("{prefix}start")), offset)?;
    let expiry_text = fields.text(&format!("{prefix}expiry"));
    let never = fields.checked(&format!("{prefix}never"));
    if optional && doors.is_empty() && start.is_none() && expiry_text.trim().is_empty() && !never {
        return Ok(None);
    }
    if doors.is_empty() {
        return Err(AppError::bad_request(format!("{label}: choose at least one door")));
    }
    let expiry = match (parse_time(&format!("{label} expiration"), expiry_text, offset)?, never) {
        (Some(_), true) => {
            return Err(AppError::bad_request(format!(
                "{label}: give an expiration or tick \"No expiration\", not both"
            )));
        }
        (Some(t), false) => Expiry::At(t),
        (None, true) => Expiry::Never,
        (None, false) => {
            return Err(AppError::bad_request(format!(
                "{label}: give an expiration (recommended), or tick \"No expiration\""
            )));
        }
    };
    Ok(Some(KeyGrant { doors, start, expiry }))
}

fn invite_page(ctx: &Ctx, doors: &[DoorInfo], form: Option<&Fields>, error: Option<&AppError>) -> Markup {
    let text = |name: &str| form.map(|f| f.text(name).to_string()).unwrap_or_default();
    let doorcode = form.is_some_and(|f| f.text("access") == "daily_doorcode");
    let body = html! {
        h1 { "Invite" }
        form.card #invite method="post" action=(ctx.url("/invite")) {
            (csrf_field(&ctx.csrf))
            fieldset {
                legend { "How they get in" }
                label.check { input type="radio" name="access" value="app_key" checked[!doorcode]; " Keyway App (their phone holds the key)" }
                label.check { input type="radio" name="access" value="daily_doorcode" checked[doorcode]; " Daily doorcode (typed at the keypad; no phone needed)" }
            }
            div.row {
                label { "Name" input type="text" name="name" value=(text("name")) required; }
                label { "Contact (email or phone)" input type="text" name="contact" value=(text("contact")) required; }
            }
            @for i in 1..=INVITE_KEY_ROWS {
                fieldset.key {
                    legend { "Key " (i) @if i > 1 { " (optional)" } }
                    (key_fields(ctx, &format!("key{i}_"), doors, form))
                }
            }
            div.row {
                label.check { input type="checkbox" name="resident" checked[form.is_some_and(|f| f.checked("resident"))]; " Resident" }
                label.check { input type="checkbox" name="may_share" checked[form.is_some_and(|f| f.checked("may_share"))]; " May Share Key (with guests, from the app)" }
            }
            p.hint { "The welcome message goes out today, whatever the start time: access begins at the start time." }
            (form_error(error))
            (km_button(ctx, "Invite", "primary"))
        }
    };
    layout(ctx, "Invite", Menu::Invite, body)
}

/// `GET /p/{pid}/invite`.
pub async fn invite_form(State(st): State<Console>, visit: Visit, Path(pid): Path<i64>) -> PageResult {
    let (ctx, doors) = st.view(&visit, pid, |tx, m, _| crate::provisioning::list_doors(tx, m.property_id)).await?;
    Ok(ok_page(invite_page(&ctx, &doors, None, None)))
}

fn invite_request(fields: &Fields, offset: i16) -> AppResult<InviteRequest> {
    let access = match fields.text("access") {
        "daily_doorcode" => AccessKind::DailyDoorcode,
        "app_key" | "" => AccessKind::AppKey,
        other => return Err(AppError::bad_request(format!("access: unknown kind {other:?}"))),
    };
    let mut keys = Vec::new();
    for i in 1..=INVITE_KEY_ROWS {
        if let Some(grant) = grant_from(fields, &format!("key{i}_"), &format!("Key {i}"), offset, i > 1)? {
            keys.push(grant);
        }
    }
    Ok(InviteRequest {
        name: fields.text("name").to_string(),
        contact: fields.text("contact").to_string(),
        access,
        keys,
        resident: fields.checked("resident"),
        may_share: fields.checked("may_share"),
    })
}

/// `POST /p/{pid}/invite`: [`access::invite`].
pub async fn invite(
    State(st): State<Console>,
    visit: Visit,
    Path(pid): Path<i64>,
    Extension(fields): Extension<Fields>,
) -> PageResult {
    // The offset the form was filled in: the property's, read with the page's context.
    let (ctx, doors) = st.view(&visit, pid, |tx, m, _| crate::provisioning::list_doors(tx, m.property_id)).await?;
    let result = match invite_request(&fields, ctx.offset) {
        Ok(req) => st.act(&visit, pid, move |tx, m, now| access::invite(tx, m, req, now).map(|(r, _token)| r)).await?,
        Err(e) => Err(e),
    };
    match result {
        Ok(done) => {
            let start = done.person.keys.iter().map(|k| k.validity.start).min();
            let starts = match start {
                Some(t) if t > keyway_api::clock::now() => {
                    format!(" Their access starts {}.", show_time(t, ctx.offset))
                }
                _ => String::new(),
            };
            st.flash(
                &visit,
                format!(
                    "Invited {}. The welcome message goes out today (see Welcome messages).{starts}",
                    done.person.name
                ),
            );
            Ok(Redirect::to(&ctx.url(&format!("/people/{}", done.person.person_id.0))).into_response())
        }
        Err(e) => Ok(page_with(e.status, invite_page(&ctx, &doors, Some(&fields), Some(&e)))),
    }
}

// ---- a person: the Keys tab ----------------------------------------------------------------

/// What a person's page shows.
pub struct PersonView {
    person: PersonInfo,
    devices: Vec<DeviceInfo>,
    doors: Vec<DoorInfo>,
}

fn load_person(tx: &rusqlite::Transaction, m: &crate::auth::Manager, id: u64, now: UnixTime) -> AppResult<PersonView> {
    let row = domain::in_property(tx, m.property_id, id)?;
    if row.deleted_at.is_some() {
        return Err(AppError::not_found(format!("person {id} was deleted")));
    }
    Ok(PersonView {
        person: domain::info(tx, &row, now)?,
        devices: crate::devices::list(tx, m, id)?,
        doors: crate::provisioning::list_doors(tx, m.property_id)?,
    })
}

/// Which form a refusal belongs beside.
#[derive(Clone, PartialEq, Eq)]
enum At {
    AddKey,
    Expiry(u64),
    DeleteKey(u64),
}

fn tabs(ctx: &Ctx, id: u64, keys: bool) -> Markup {
    html! {
        nav.tabs aria-label="Person" {
            a href=(ctx.url(&format!("/people/{id}"))) aria-current=[keys.then_some("page")] { "Keys" }
            a href=(ctx.url(&format!("/people/{id}/updates"))) aria-current=[(!keys).then_some("page")] { "Door update tasks" }
        }
    }
}

fn person_header(p: &PersonInfo) -> Markup {
    html! {
        h1 { (p.name) }
        p.facts {
            (p.contact) " · " (access_text(p.access))
            @if p.resident { " · resident" }
            @if p.may_share { " · may share keys" }
            " · " span.status { (status_text(p.status)) }
            @if p.access == AccessKind::AppKey { " · " @if p.accepted { "invite accepted" } @else { "invite not accepted yet" } }
        }
    }
}

fn key_row(ctx: &Ctx, id: u64, k: &KeyInfo, names: &HashMap<DoorId, String>, form: Option<(&At, &AppError)>) -> Markup {
    let live = matches!(k.status, KeyStatus::Active | KeyStatus::Upcoming);
    let error_for = |at: At| form.filter(|(a, _)| **a == at).map(|(_, e)| e);
    let key = k.key_id.0;
    html! {
        tr.key data-key=(key) {
            td { (key) }
            td { (doors_text(&k.doors, names)) }
            td { (show_time(k.validity.start, ctx.offset)) }
            td.expiry { (show_time(k.validity.expiry, ctx.offset)) }
            td.status { (key_status_text(k.status))
                @if let Some(r) = k.replaced_by { " by key " (r) } }
            td.actions {
                @if live {
                    form.inline.expiry method="post" action=(ctx.url(&format!("/people/{id}/keys/{key}/expiry"))) {
                        (csrf_field(&ctx.csrf))
                        label { span.sr { "New expiration" } input type="datetime-local" name="expiry" value=(input_time(k.validity.expiry, ctx.offset)); }
                        label.check { input type="checkbox" name="never" checked[k.validity.expiry >= keyway_api::NO_EXPIRY]; " never" }
                        (km_button(ctx, "Save expiration", ""))
                        (form_error(error_for(At::Expiry(key))))
                    }
                    form.inline method="post" action=(ctx.url(&format!("/people/{id}/keys/{key}/delete"))) {
                        (csrf_field(&ctx.csrf))
                        (km_button(ctx, "Delete key", "danger"))
                        (form_error(error_for(At::DeleteKey(key))))
                    }
                }
            }
        }
        @for g in &k.guests {
            tr.guest data-key=(g.key_id.0) {
                td { "↳ guest " (g.key_id.0) }
                td { (doors_text(&g.doors, names)) }
                td { (show_time(g.validity.start, ctx.offset)) }
                td { (show_time(g.validity.expiry, ctx.offset)) }
                td.status { (key_status_text(g.status)) }
                td.actions {
                    (g.label.as_deref().unwrap_or("a guest")) " · shared " (show_time(g.registered_at, ctx.offset))
                    @if matches!(g.status, KeyStatus::Active | KeyStatus::Upcoming) {
                        form.inline method="post" action=(ctx.url(&format!("/people/{id}/keys/{}/delete", g.key_id.0))) {
                            (csrf_field(&ctx.csrf))
                            input type="hidden" name="parent_key_id" value=(key);
                            (km_button(ctx, "Delete guest key", "danger"))
                            (form_error(error_for(At::DeleteKey(g.key_id.0))))
                        }
                    }
                }
            }
        }
    }
}

fn person_page(ctx: &Ctx, v: &PersonView, form: Option<(&At, &AppError)>, add_fields: Option<&Fields>) -> Markup {
    let p = &v.person;
    let id = p.person_id.0;
    let names = door_names(&v.doors);
    let guests = p.keys.iter().flat_map(|k| &k.guests).count();
    let body = html! {
        (person_header(p))
        (tabs(ctx, id, true))
        section #keys {
            h2 { "Keys" }
            table.keys {
                thead { tr { th { "Key" } th { "Doors" } th { "Start" } th { "Expiration" } th { "Status" } th { "" } } }
                tbody { @for k in &p.keys { (key_row(ctx, id, k, &names, form)) } }
            }
            @if p.keys.is_empty() { p.hint { "No keys." } }
            p.hint { (guests) " guest " @if guests == 1 { "key" } @else { "keys" } " shared by " (p.name) "." }
            form.card #add-key method="post" action=(ctx.url(&format!("/people/{id}/keys"))) {
                h3 { "Add key" }
                (csrf_field(&ctx.csrf))
                (key_fields(ctx, "", &v.doors, add_fields))
                (form_error(form.filter(|(a, _)| **a == At::AddKey).map(|(_, e)| e)))
                (km_button(ctx, "Add key", "primary"))
            }
        }
        @if !p.keycards.is_empty() {
            section #keycards {
                h2 { "Keycards" }
                table { thead { tr { th { "Card" } th { "Kind" } th { "Doors" } th { "Expiration" } th { "Removed" } } }
                    tbody { @for c in &p.keycards { tr {
                        td { (c.card) } td { (format!("{:?}", c.kind)) } td { (doors_text(&c.doors, &names)) }
                        td { (show_time(c.validity.expiry, ctx.offset)) }
                        td { @if let Some(t) = c.removed_at { (show_time(t, ctx.offset)) } }
                    } } }
                }
            }
        }
        section #devices {
            h2 { "Devices" }
            @if v.devices.is_empty() { p.hint { "No phone has accepted this invite yet." } }
            @else {
                table { thead { tr { th { "Device" } th { "Enrolled" } th { "Removed" } } }
                    tbody { @for d in &v.devices { tr {
                        td { (d.device) } td { (show_time(d.enrolled_at, ctx.offset)) }
                        td { @if let Some(t) = d.removed_at { (show_time(t, ctx.offset)) } @else { "in use" } }
                    } } }
                }
            }
        }
        section.bottom {
            @if ctx.manager.key_management {
                a.button.danger href=(ctx.url(&format!("/people/{id}/revoke-all"))) { "Revoke All Keys" }
                " "
                a.button.danger href=(ctx.url(&format!("/people/{id}/delete"))) { "Delete Person" }
            } @else {
                button type="button" class="danger" disabled { "Revoke All Keys" }
                " "
                button type="button" class="danger" disabled { "Delete Person" }
                span.needs-km { (super::NEEDS_KEY_MANAGEMENT) }
            }
        }
    };
    layout(ctx, &p.name, Menu::People, body)
}

/// `GET /p/{pid}/people/{id}`: the Keys tab.
pub async fn person(State(st): State<Console>, visit: Visit, Path((pid, id)): Path<(i64, u64)>) -> PageResult {
    let (ctx, view) = st.view(&visit, pid, move |tx, m, now| load_person(tx, m, id, now)).await?;
    Ok(ok_page(person_page(&ctx, &view, None, None)))
}

/// After an action on a person's page: its message and back to the page, or the page again
/// with the server's message beside the form.
async fn after<T>(
    st: &Console,
    visit: &Visit,
    (pid, id): (i64, u64),
    at: At,
    fields: Option<&Fields>,
    result: AppResult<T>,
    message: impl FnOnce(T, &Ctx) -> String,
) -> PageResult {
    let (ctx, view) = st.view(visit, pid, move |tx, m, now| load_person(tx, m, id, now)).await?;
    match result {
        Ok(done) => {
            st.flash(visit, message(done, &ctx));
            Ok(Redirect::to(&ctx.url(&format!("/people/{id}"))).into_response())
        }
        Err(e) => Ok(page_with(e.status, person_page(&ctx, &view, Some((&at, &e)), fields))),
    }
}

/// The property's offset from UTC, to read the form's times in.
async fn offset_of(st: &Console, visit: &Visit, pid: i64) -> Result<i16, Response> {
    let (ctx, ()) = st.view(visit, pid, |_, _, _| Ok(())).await?;
    // The flash this read took belongs to the page shown next.
    if let Some(flash) = ctx.flash {
        st.flash(visit, flash);
    }
    Ok(ctx.offset)
}

/// `POST /p/{pid}/people/{id}/keys`: [`access::add_key`].
pub async fn add_key(
    State(st): State<Console>,
    visit: Visit,
    Path((pid, id)): Path<(i64, u64)>,
    Extension(fields): Extension<Fields>,
) -> PageResult {
    let offset = offset_of(&st, &visit, pid).await?;
    let result = match grant_from(&fields, "", "New key", offset, false) {
        Ok(grant) => {
            let grant = grant.expect("a required row is a grant");
            st.act(&visit, pid, move |tx, m, now| access::add_key(tx, m, id, grant, now)).await?
        }
        Err(e) => Err(e),
    };
    after(&st, &visit, (pid, id), At::AddKey, Some(&fields), result, |done, ctx| {
        format!(
            "Added key {} ({} to {}).",
            done.key.key_id,
            show_time(done.key.validity.start, ctx.offset),
            show_time(done.key.validity.expiry, ctx.offset)
        )
    })
    .await
}

/// `POST /p/{pid}/people/{id}/keys/{key}/expiry`: [`access::change_expiry`].
pub async fn change_expiry(
    State(st): State<Console>,
    visit: Visit,
    Path((pid, id, key)): Path<(i64, u64, u64)>,
    Extension(fields): Extension<Fields>,
) -> PageResult {
    let offset = offset_of(&st, &visit, pid).await?;
    let expiry = match (parse_time("expiration", fields.text("expiry"), offset), fields.checked("never")) {
        (Err(e), _) => Err(e),
        (Ok(_), true) => Ok(Expiry::Never),
        (Ok(Some(t)), false) => Ok(Expiry::At(t)),
        (Ok(None), false) => Err(AppError::bad_request("expiration: give a date and time, or tick \"never\"")),
    };
    let result = match expiry {
        Ok(expiry) => {
            st.act(&visit, pid, move |tx, m, now| {
                // The key must be this person's: the URL names both.
                let person = domain::live_in_property(tx, m.property_id, id)?;
                let owner = crate::keys::key_in_property(tx, m.property_id, i64::try_from(key).unwrap_or(-1))?;
                if owner.is_none_or(|k| k.person_id != person.id) {
                    return Err(AppError::not_found(format!("{} has no key {key}", person.name)));
                }
                access::change_expiry(tx, m, key, ChangeExpiryRequest { expiry }, now)
            })
            .await?
        }
        Err(e) => Err(e),
    };
    after(&st, &visit, (pid, id), At::Expiry(key), None, result, |done, ctx| {
        let replaced = if done.key.key_id.0 != key {
            format!(" The phone gets it as key {} (an earlier expiration needs a new key id).", done.key.key_id)
        } else {
            String::new()
        };
        format!("Key {key} now expires {}.{replaced}", show_time(done.key.validity.expiry, ctx.offset))
    })
    .await
}

/// `POST /p/{pid}/people/{id}/keys/{key}/delete` (`parent_key_id` for a guest key):
/// [`access::delete_key`].
pub async fn delete_key(
    State(st): State<Console>,
    visit: Visit,
    Path((pid, id, key)): Path<(i64, u64, u64)>,
    Extension(fields): Extension<Fields>,
) -> PageResult {
    let parent = match fields.get("parent_key_id").filter(|p| !p.is_empty()).map(str::parse::<u64>).transpose() {
        Ok(parent) => parent,
        Err(_) => return Err(super::error_page(&AppError::bad_request("parent_key_id: expected a key id"))),
    };
    let result = st
        .act(&visit, pid, move |tx, m, now| {
            let person = domain::live_in_property(tx, m.property_id, id)?;
            let owner_key = i64::try_from(parent.unwrap_or(key)).unwrap_or(-1);
            let owner = crate::keys::key_in_property(tx, m.property_id, owner_key)?;
            if owner.is_none_or(|k| k.person_id != person.id) {
                return Err(AppError::not_found(format!("{} has no key {key}", person.name)));
            }
            access::delete_key(tx, m, key, &DeleteKeyQuery { parent_key_id: parent.map(KeyId) }, now)
        })
        .await?;
    after(&st, &visit, (pid, id), At::DeleteKey(key), None, result, |done, _| {
        format!("Deleted key {key}; {} door update(s) queued for offline doors.", done.updates.len())
    })
    .await
}

// ---- Revoke All Keys, Delete Person ----------------------------------------------------------

fn confirm_page(
    ctx: &Ctx,
    p: &PersonInfo,
    title: &str,
    action: &str,
    says: Markup,
    error: Option<&AppError>,
) -> Markup {
    let id = p.person_id.0;
    let body = html! {
        h1 { (title) ": " (p.name) "?" }
        div.confirm { (says) }
        form method="post" action=(ctx.url(&format!("/people/{id}/{action}"))) {
            (csrf_field(&ctx.csrf))
            (form_error(error))
            (km_button(ctx, title, "danger"))
            " "
            a href=(ctx.url(&format!("/people/{id}"))) { "Cancel" }
        }
    };
    layout(ctx, title, Menu::People, body)
}

fn revoke_says(p: &PersonInfo) -> Markup {
    let guests = p
        .keys
        .iter()
        .flat_map(|k| &k.guests)
        .filter(|g| matches!(g.status, KeyStatus::Active | KeyStatus::Upcoming))
        .count();
    html! {
        p { "Every key of " (p.name) " ends now, and their keycards are removed. "
            strong { "Guests " (p.name) " shared keys with are revoked too" }
            " (" (guests) " guest " @if guests == 1 { "key" } @else { "keys" } " now)." }
        p { (p.name) " stays in the People list under Show Expired Users and can be given keys again with Add key." }
    }
}

fn delete_says(p: &PersonInfo) -> Markup {
    html! {
        p { strong { "This is permanent." } " " (p.name) "'s keys, doorcodes and keycards end at every door, and "
            strong { "guests with permanent keys from " (p.name) " lose access too" } ", as do all their other guests." }
        p { (p.name) " leaves the People list; to give them access again, invite them anew. "
            "Their past activity stays in the Activity tab." }
    }
}

async fn confirm(st: &Console, visit: &Visit, pid: i64, id: u64, delete: bool) -> PageResult {
    let (ctx, view) = st.view(visit, pid, move |tx, m, now| load_person(tx, m, id, now)).await?;
    let p = &view.person;
    Ok(ok_page(if delete {
        confirm_page(&ctx, p, "Delete Person", "delete", delete_says(p), None)
    } else {
        confirm_page(&ctx, p, "Revoke All Keys", "revoke-all", revoke_says(p), None)
    }))
}

/// `GET /p/{pid}/people/{id}/revoke-all`: the confirmation.
pub async fn revoke_all_confirm(
    State(st): State<Console>,
    visit: Visit,
    Path((pid, id)): Path<(i64, u64)>,
) -> PageResult {
    confirm(&st, &visit, pid, id, false).await
}

/// `GET /p/{pid}/people/{id}/delete`: the confirmation.
pub async fn delete_confirm(State(st): State<Console>, visit: Visit, Path((pid, id)): Path<(i64, u64)>) -> PageResult {
    confirm(&st, &visit, pid, id, true).await
}

/// `POST /p/{pid}/people/{id}/revoke-all`: [`access::revoke_all`].
pub async fn revoke_all(State(st): State<Console>, visit: Visit, Path((pid, id)): Path<(i64, u64)>) -> PageResult {
    let result = st.act(&visit, pid, move |tx, m, now| access::revoke_all(tx, m, id, now)).await?;
    match result {
        Ok(done) => {
            let (ctx, view) = st.view(&visit, pid, move |tx, m, now| load_person(tx, m, id, now)).await?;
            st.flash(
                &visit,
                format!(
                    "Revoked all keys of {} ({} keys; their guests with them). {} door update(s) queued.",
                    view.person.name,
                    done.revoked_keys.len(),
                    done.updates.len()
                ),
            );
            Ok(Redirect::to(&ctx.url(&format!("/people/{id}"))).into_response())
        }
        Err(e) => {
            let (ctx, view) = st.view(&visit, pid, move |tx, m, now| load_person(tx, m, id, now)).await?;
            let p = &view.person;
            Ok(page_with(e.status, confirm_page(&ctx, p, "Revoke All Keys", "revoke-all", revoke_says(p), Some(&e))))
        }
    }
}

/// `POST /p/{pid}/people/{id}/delete`: [`access::delete_person`].
pub async fn delete(State(st): State<Console>, visit: Visit, Path((pid, id)): Path<(i64, u64)>) -> PageResult {
    let name = st
        .view(&visit, pid, move |tx, m, _| Ok(domain::live_in_property(tx, m.property_id, id)?.name))
        .await
        .map(|(ctx, name)| {
            if let Some(flash) = ctx.flash {
                st.flash(&visit, flash);
            }
            name
        })?;
    let result = st.act(&visit, pid, move |tx, m, now| access::delete_person(tx, m, id, now)).await?;
    match result {
        Ok(done) => {
            st.flash(
                &visit,
                format!("Deleted {name}. {} door update(s) queued; their activity stays.", done.updates.len()),
            );
            Ok(Redirect::to(&format!("/p/{pid}/people")).into_response())
        }
        Err(e) => {
            let (ctx, view) = st.view(&visit, pid, move |tx, m, now| load_person(tx, m, id, now)).await?;
            let p = &view.person;
            Ok(page_with(e.status, confirm_page(&ctx, p, "Delete Person", "delete", delete_says(p), Some(&e))))
        }
    }
}

// ---- a person's door update tasks ----------------------------------------------------------

/// Whether a door update concerns the person: names them, one of their keys or guest keys, or
/// one of their doorcode slots at that door.
fn concerns(task: &DoorUpdateTask, person: u64, keys: &BTreeSet<u64>, slots: &BTreeSet<(DoorId, u32)>) -> bool {
    task.ops.iter().any(|op| match op {
        DoorOp::RevokeKey { key, .. } => keys.contains(&key.0),
        DoorOp::RevokePerson { person: p, .. }
        | DoorOp::AddDoorcode { person: p, .. }
        | DoorOp::AddKeycardV1 { person: p, .. }
        | DoorOp::AddKeycard { person: p, .. } => p.0 == person,
        DoorOp::RemoveDoorcode { slot } => slots.contains(&(task.door_id, *slot)),
        _ => false,
    })
}

/// `GET /p/{pid}/people/{id}/updates`: the door update tasks that concern the person (a
/// deleted person's too: their revocation is worth watching).
pub async fn person_updates(State(st): State<Console>, visit: Visit, Path((pid, id)): Path<(i64, u64)>) -> PageResult {
    let (ctx, (row, info, tasks, names)) = st
        .view(&visit, pid, move |tx, m, now| {
            let row = domain::in_property(tx, m.property_id, id)?;
            let info = domain::info(tx, &row, now)?;
            let mut keys = BTreeSet::new();
            let mut slots = BTreeSet::new();
            for k in crate::keys::keys_of_person(tx, row.id)? {
                keys.insert(k.id as u64);
                slots.extend(domain::slots_of_key(tx, k.id)?);
            }
            keys.extend(crate::keys::guests_of_person(tx, row.id)?.iter().map(|g| g.info(now).key_id.0));
            let tasks: Vec<DoorUpdateTask> = crate::updates::tasks(tx, m.property_id, &DoorUpdateQuery::default())?
                .into_iter()
                .filter(|t| concerns(t, id, &keys, &slots))
                .collect();
            Ok((row, info, tasks, OpNames::load(tx, m.property_id)?))
        })
        .await?;
    let body = html! {
        (person_header(&info))
        @if row.deleted_at.is_some() { p.flash { (info.name) " was deleted; these updates carry it to the doors." } }
        (tabs(&ctx, id, false))
        h2 { "Door update tasks" }
        p.hint { "What offline doors must learn about " (info.name) ": pending until a phone or the door's feed "
            "carries it and the door's signed receipt comes back." }
        (task_table(&ctx, &tasks, &names))
    };
    Ok(ok_page(layout(&ctx, &info.name, Menu::People, body)))
}
