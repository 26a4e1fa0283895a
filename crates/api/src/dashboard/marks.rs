//! The marks the dashboard's pages show beside appointments and callers: attended or no-show,
//! and a conflict with the provider's own calendar.

use std::collections::{HashMap, HashSet};

use booking_core::attendance::Attendance;
use booking_core::booking::Booking;
use booking_core::{BookingId, PhoneNumber};

use super::respond::DashError;
use super::session::Ctx;
use crate::state::AppState;

/// The attended and no-show marks of the bookings on a page, the no-shows of the numbers on it
/// (two queries per page), and which bookings conflict with their provider's own calendar (one
/// query per provider on the page).
#[derive(Default)]
pub(super) struct Marks {
    pub(super) attendance: HashMap<BookingId, Attendance>,
    no_shows: HashMap<PhoneNumber, u32>,
    /// Confirmed bookings that overlap an event in their provider's own calendar.
    pub(super) conflicts: HashSet<BookingId>,
}

impl Marks {
    pub(super) async fn load(
        state: &AppState,
        ctx: &Ctx,
        bookings: &[&Booking],
        callers: &[&PhoneNumber],
    ) -> Result<Self, DashError> {
        let ids: Vec<BookingId> = bookings.iter().map(|b| b.id).collect();
        let mut phones: Vec<PhoneNumber> = bookings
            .iter()
            .map(|b| b.caller_phone.clone())
            .chain(callers.iter().map(|p| (*p).clone()))
            .collect();
        phones.sort();
        phones.dedup();
        let attendance = if ids.is_empty() {
            HashMap::new()
        } else {
            state
                .store
                .attendance_of(ctx.tenant.id, &ids)
                .await?
                .into_iter()
                .collect()
        };
        let no_shows = if phones.is_empty() {
            HashMap::new()
        } else {
            state
                .store
                .no_show_counts(ctx.tenant.id, &phones)
                .await?
                .into_iter()
                .collect()
        };
        let conflicts = super::calendars::conflicting(state, ctx.tenant.id, bookings).await?;
        Ok(Self {
            attendance,
            no_shows,
            conflicts,
        })
    }

    /// "· 2 no-shows" after a contact's number, nothing for a contact without any.
    pub(super) fn no_shows_of(&self, phone: &PhoneNumber) -> String {
        match self.no_shows.get(phone).copied().unwrap_or(0) {
            0 => String::new(),
            1 => " · <span class=\"no-shows\">1 no-show</span>".to_owned(),
            n => format!(" · <span class=\"no-shows\">{n} no-shows</span>"),
        }
    }
}
