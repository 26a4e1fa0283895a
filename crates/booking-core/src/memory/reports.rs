//! The Reports page's figures: [`ReportStore`] in memory, counting row by row with the rules of
//! [`crate::reports`].

use async_trait::async_trait;

use crate::ids::TenantId;
use crate::memory::MemoryStore;
use crate::ports::{ReportStore, StoreResult};
use crate::reports::{
    ReportWeeks, TextOutcome, WeekFigures, answered_at, booked_by_ai_at, hot_lead_at, no_show_at,
    text_outcome,
};

#[async_trait]
impl ReportStore for MemoryStore {
    async fn weekly_figures(
        &self,
        tenant: TenantId,
        weeks: &ReportWeeks,
    ) -> StoreResult<Vec<WeekFigures>> {
        let s = self.lock();
        let mut out = vec![WeekFigures::default(); weeks.len()];
        let mut add = |at: Option<jiff::Timestamp>, field: fn(&mut WeekFigures) -> &mut u32| {
            if let Some(i) = at.and_then(|t| weeks.week_of(t)) {
                *field(&mut out[i]) += 1;
            }
        };
        for call in s.calls.values().filter(|c| c.tenant == tenant) {
            add(answered_at(call), |f| &mut f.calls_answered);
            add(hot_lead_at(call), |f| &mut f.hot_leads);
        }
        for b in s.bookings.iter().filter(|b| b.tenant == tenant) {
            add(booked_by_ai_at(b), |f| &mut f.booked_by_ai);
            let mark = s.attendance.get(&(tenant, b.id)).copied();
            add(no_show_at(b, mark), |f| &mut f.no_shows);
        }
        for row in s.messages.iter().filter(|m| m.message.tenant == tenant) {
            match text_outcome(&row.message) {
                Some((TextOutcome::Delivered, at)) => add(Some(at), |f| &mut f.texts_delivered),
                Some((TextOutcome::Failed, at)) => add(Some(at), |f| &mut f.texts_failed),
                None => {}
            }
        }
        for id in s.waitlist.claimed_bookings(tenant) {
            let claimed = s.bookings.iter().find(|b| b.tenant == tenant && b.id == id);
            add(claimed.and_then(|b| b.confirmed_at), |f| {
                &mut f.refilled_by_waitlist
            });
        }
        Ok(out)
    }
}
