//! Import: people from a CSV rent roll pasted into the page, through [`crate::import::import`]
//! (the function `POST /v1/people/import` calls), and its report.

use super::{Console, Ctx, Fields, Menu, PageResult, Visit, csrf_field, form_error, km_button, layout, page_with};
use crate::error::AppError;
use crate::import::ImportReport;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use maud::{Markup, html};

const EXAMPLE: &str =
    "name,contact,doors,start,expiry,resident\nAnn Lee,ann@example.com,Lobby;Unit 4B,,2027-06-30,yes\n";

fn page(ctx: &Ctx, csv: &str, all_or_nothing: bool, report: Option<&ImportReport>, error: Option<&AppError>) -> Markup {
    let body = html! {
        h1 { "Import people" }
        p.hint {
            "Paste a rent roll as CSV: a header row, then one person per row. Columns: "
            code { "name" } ", " code { "contact" } " (email or phone: the welcome goes there), "
            code { "doors" } " (door names or ids, separated by " code { ";" } "), "
            code { "start" } " (optional), " code { "expiry" } " (a date, or " code { "never" } "), "
            code { "resident" } " (yes/no), " code { "access" } " (" code { "app_key" } " or "
            code { "daily_doorcode" } "), " code { "may_share" } " (yes/no). Dates like 2027-06-30 or "
            "2027-06-30 09:00 are the property's local time. Each row is invited as with Invite."
        }
        @if let Some(r) = report { (report_view(ctx, r)) }
        form.card #import method="post" action=(ctx.url("/import")) {
            (csrf_field(&ctx.csrf))
            label { "CSV" textarea name="csv" rows="12" cols="90" required placeholder=(EXAMPLE) { (csv) } }
            label.check { input type="checkbox" name="all_or_nothing" checked[all_or_nothing]; " All or nothing: import no row if any row is refused" }
            p.hint { "Up to 64 KiB here; larger files go through " code { "POST /v1/people/import" } "." }
            (form_error(error))
            (km_button(ctx, "Import", "primary"))
        }
    };
    layout(ctx, "Import", Menu::Import, body)
}

fn report_view(ctx: &Ctx, r: &ImportReport) -> Markup {
    html! {
        section.report #report {
            h2 { "Report" }
            p role="status" {
                (r.rows) " rows read: " (r.imported.len()) " imported, " (r.refused.len()) " refused."
                @if !r.committed && !r.refused.is_empty() && r.imported.is_empty() { " Nothing was imported." }
            }
            @if !r.refused.is_empty() {
                table.refused {
                    thead { tr { th { "Row" } th { "Column" } th { "Why" } } }
                    tbody {
                        @for row in &r.refused {
                            tr { td { (row.row) } td { (row.column.as_deref().unwrap_or("—")) } td.error { (row.message) } }
                        }
                    }
                }
            }
            @if !r.imported.is_empty() {
                table.imported {
                    thead { tr { th { "Row" } th { "Person" } } }
                    tbody {
                        @for row in &r.imported {
                            tr {
                                td { (row.row) }
                                td { a href=(ctx.url(&format!("/people/{}", row.person.person_id.0))) { (row.person.name) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /p/{pid}/import`.
pub async fn form(State(st): State<Console>, visit: Visit, Path(pid): Path<i64>) -> PageResult {
    let (ctx, ()) = st.view(&visit, pid, |_, _, _| Ok(())).await?;
    Ok(page_with(StatusCode::OK, page(&ctx, "", false, None, None)))
}

/// `POST /p/{pid}/import` (`csv`, `all_or_nothing`): [`crate::import::import`].
pub async fn submit(
    State(st): State<Console>,
    visit: Visit,
    Path(pid): Path<i64>,
    Extension(fields): Extension<Fields>,
) -> PageResult {
    let csv = fields.text("csv").to_string();
    let all_or_nothing = fields.checked("all_or_nothing");
    let bytes = csv.clone().into_bytes();
    let result =
        st.act(&visit, pid, move |tx, m, now| crate::import::import(tx, m, &bytes, all_or_nothing, now)).await?;
    let (ctx, ()) = st.view(&visit, pid, |_, _, _| Ok(())).await?;
    Ok(match result {
        // A successful import clears the form; a report with refusals keeps it for correction.
        Ok(report) => {
            let keep = if report.refused.is_empty() { "" } else { csv.as_str() };
            page_with(StatusCode::OK, page(&ctx, keep, all_or_nothing, Some(&report), None))
        }
        Err(e) => page_with(e.status, page(&ctx, &csv, all_or_nothing, None, Some(&e))),
    })
}
