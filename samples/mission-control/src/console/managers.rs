//! Managers: the property's managers, adding one (Portfolio Manager), and the Key Management
//! permission.

use super::{
    Console, Ctx, Fields, Menu, PageResult, Visit, csrf_field, form_error, layout, ok_page, page_with, show_time,
};
use crate::error::AppError;
use crate::provisioning;
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use keyway_api::{CreateManagerRequest, ManagerInfo, SetKeyManagementRequest};
use maud::{Markup, html};

/// A refusal shown beside the form it concerns.
enum At {
    Create,
    Toggle(u64),
}

fn page(ctx: &Ctx, managers: &[ManagerInfo], error: Option<(&At, &AppError)>) -> Markup {
    let pm = ctx.manager.portfolio_manager;
    let error_for = |want: &dyn Fn(&At) -> bool| error.filter(|(at, _)| want(at)).map(|(_, e)| e);
    let body = html! {
        h1 { "Managers" }
        table.managers {
            thead { tr { th { "Name" } th { "Portfolio Manager" } th { "Key Management" } th { "Token expires" } th { "" } } }
            tbody {
                @for m in managers {
                    tr data-manager=(m.manager_id) {
                        td { (m.name) @if m.manager_id == ctx.manager.id as u64 { " (you)" } }
                        td { @if m.portfolio_manager { "yes" } @else { "no" } }
                        td.km { @if m.key_management { "yes" } @else { "no" } }
                        td { (show_time(m.token_expires_at, ctx.offset)) }
                        td {
                            form.inline method="post" action=(ctx.url(&format!("/managers/{}/key-management", m.manager_id))) {
                                (csrf_field(&ctx.csrf))
                                input type="hidden" name="enabled" value=(if m.key_management { "false" } else { "true" });
                                button type="submit" disabled[!pm] {
                                    @if m.key_management { "Remove Key Management" } @else { "Grant Key Management" }
                                }
                                (form_error(error_for(&|at| matches!(at, At::Toggle(id) if *id == m.manager_id))))
                            }
                        }
                    }
                }
            }
        }
        @if !pm { p.hint { "Only a Portfolio Manager adds managers and changes their permissions." } }
        form.card #add-manager method="post" action=(ctx.url("/managers")) {
            h2 { "Add manager" }
            (csrf_field(&ctx.csrf))
            label { "Name" input type="text" name="name" required; }
            label.check { input type="checkbox" name="portfolio_manager"; " Portfolio Manager" }
            label.check { input type="checkbox" name="key_management"; " Key Management (invite people, edit and revoke keys)" }
            p.hint { "The new manager's token is shown once, here: hand it to them." }
            (form_error(error_for(&|at| matches!(at, At::Create))))
            button type="submit" class="primary" disabled[!pm] { "Add manager" }
        }
    };
    layout(ctx, "Managers", Menu::Managers, body)
}

/// `GET /p/{pid}/managers`.
pub async fn list(State(st): State<Console>, visit: Visit, Path(pid): Path<i64>) -> PageResult {
    let (ctx, managers) = st.view(&visit, pid, |tx, m, _| provisioning::list_managers(tx, m)).await?;
    Ok(ok_page(page(&ctx, &managers, None)))
}

/// `POST /p/{pid}/managers`: [`provisioning::create_manager`].
pub async fn create(
    State(st): State<Console>,
    visit: Visit,
    Path(pid): Path<i64>,
    Extension(fields): Extension<Fields>,
) -> PageResult {
    let req = CreateManagerRequest {
        name: fields.text("name").to_string(),
        portfolio_manager: fields.checked("portfolio_manager"),
        key_management: fields.checked("key_management"),
    };
    let name = req.name.clone();
    let lifetime = st.app.manager_token_lifetime;
    let result = st.act(&visit, pid, move |tx, m, now| provisioning::create_manager(tx, m, req, lifetime, now)).await?;
    match result {
        Ok(created) => {
            st.flash(
                &visit,
                format!(
                    "Added manager {} (#{}). Their token, shown this once: {}",
                    name.trim(),
                    created.manager_id,
                    created.token
                ),
            );
            Ok(Redirect::to(&format!("/p/{pid}/managers")).into_response())
        }
        Err(e) => {
            let (ctx, managers) = st.view(&visit, pid, |tx, m, _| provisioning::list_managers(tx, m)).await?;
            Ok(page_with(e.status, page(&ctx, &managers, Some((&At::Create, &e)))))
        }
    }
}

/// `POST /p/{pid}/managers/{id}/key-management` (`enabled=true|false`):
/// [`provisioning::set_key_management`].
pub async fn set_key_management(
    State(st): State<Console>,
    visit: Visit,
    Path((pid, id)): Path<(i64, u64)>,
    Extension(fields): Extension<Fields>,
) -> PageResult {
    let enabled = fields.text("enabled") == "true";
    let result = st
        .act(&visit, pid, move |tx, m, _| {
            provisioning::set_key_management(tx, m, id, SetKeyManagementRequest { enabled })
        })
        .await?;
    match result {
        Ok(info) => {
            let what = if info.key_management { "now has" } else { "no longer has" };
            st.flash(&visit, format!("{} {what} Key Management.", info.name));
            Ok(Redirect::to(&format!("/p/{pid}/managers")).into_response())
        }
        Err(e) => {
            let (ctx, managers) = st.view(&visit, pid, |tx, m, _| provisioning::list_managers(tx, m)).await?;
            Ok(page_with(e.status, page(&ctx, &managers, Some((&At::Toggle(id), &e)))))
        }
    }
}
