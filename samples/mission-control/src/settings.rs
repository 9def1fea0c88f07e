//! A property's settings: its UTC offset and its revalidation window.
//!
//! Changing the UTC offset (it decides the local day of every daily doorcode) queues a
//! `SetUtcOffset` update for every door of the property, internet-connected ones included, so
//! doors and Mission Control agree on the day again once it is delivered. The revalidation
//! window bounds how long a key certificate opens offline doors after the sync that issued it
//! (see `phone::revalidate`).

use crate::auth::Manager;
use crate::error::{AppError, AppResult};
use crate::updates::UpdatePlan;
use keyway_api::{PropertySettings, PropertySettingsRequest};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorId, DoorOp};
use keyway_protocol::door::updates::MAX_UTC_OFFSET_MINUTES;
use rusqlite::{Transaction, params};

/// The window's bounds (a new property gets 7 days: schema v7's default), in days.
pub const REVALIDATION_DAYS: std::ops::RangeInclusive<u32> = 1..=90;
const DAY: u64 = 86_400;

pub fn get(tx: &Transaction, manager: &Manager) -> AppResult<PropertySettings> {
    let (name, utc_offset_minutes, revalidation_secs): (String, i16, u64) = tx.query_row(
        "SELECT name, utc_offset_minutes, revalidation_secs FROM properties WHERE id = ?1",
        params![manager.property_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(PropertySettings {
        property_id: manager.property_id as u64,
        name,
        utc_offset_minutes,
        revalidation_days: (revalidation_secs / DAY) as u32,
        doors_updated: 0,
    })
}

/// Portfolio Managers only. Everything is checked before anything changes; an unchanged
/// offset queues nothing.
pub fn set(
    tx: &Transaction,
    manager: &Manager,
    req: PropertySettingsRequest,
    now: UnixTime,
) -> AppResult<PropertySettings> {
    manager.require_portfolio_manager()?;
    if let Some(minutes) = req.utc_offset_minutes
        && minutes.unsigned_abs() > MAX_UTC_OFFSET_MINUTES.unsigned_abs()
    {
        return Err(AppError::bad_request(format!(
            "utc_offset_minutes must lie within ±{MAX_UTC_OFFSET_MINUTES}, not {minutes}"
        )));
    }
    if let Some(days) = req.revalidation_days
        && !REVALIDATION_DAYS.contains(&days)
    {
        return Err(AppError::bad_request(format!(
            "revalidation_days must lie within {} to {}, not {days}",
            REVALIDATION_DAYS.start(),
            REVALIDATION_DAYS.end()
        )));
    }
    let mut settings = get(tx, manager)?;
    if let Some(days) = req.revalidation_days {
        tx.execute(
            "UPDATE properties SET revalidation_secs = ?1 WHERE id = ?2",
            params![u64::from(days) * DAY, manager.property_id],
        )?;
        settings.revalidation_days = days;
    }
    if let Some(minutes) = req.utc_offset_minutes
        && minutes != settings.utc_offset_minutes
    {
        tx.execute(
            "UPDATE properties SET utc_offset_minutes = ?1 WHERE id = ?2",
            params![minutes, manager.property_id],
        )?;
        let doors = tx
            .prepare("SELECT id FROM doors WHERE property_id = ?1 ORDER BY id")?
            .query_map(params![manager.property_id], |r| r.get::<_, u32>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut plan = UpdatePlan::default();
        for door in &doors {
            plan.add(DoorId(*door), DoorOp::SetUtcOffset { minutes });
        }
        plan.commit(tx, now)?;
        settings.utc_offset_minutes = minutes;
        settings.doors_updated = doors.len() as u32;
    }
    Ok(settings)
}
