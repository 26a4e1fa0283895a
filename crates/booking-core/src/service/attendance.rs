//! `mark_attendance`: the owner records whether a patient came (or clears the mark).

use crate::attendance::{Attendance, MarkRefusal};
use crate::ids::BookingId;
use crate::ports::StoreError;
use crate::service::{BookingService, ServiceResult};
use crate::tenant::Tenant;

/// What marking an appointment did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkOutcome {
    /// The mark is now `attendance` (`None`: not marked).
    Marked {
        attendance: Option<Attendance>,
    },
    Refused(MarkRefusal),
    /// The clinic has no such booking.
    NotFound,
}

impl BookingService {
    /// Marks one of the clinic's appointments attended or no-show, or clears the mark.
    pub async fn mark_attendance(
        &self,
        tenant: &Tenant,
        id: BookingId,
        mark: Option<Attendance>,
    ) -> ServiceResult<MarkOutcome> {
        match self
            .store
            .mark_attendance(tenant.id, id, mark, self.clock.now())
            .await
        {
            Ok(Ok(())) => Ok(MarkOutcome::Marked { attendance: mark }),
            Ok(Err(refusal)) => Ok(MarkOutcome::Refused(refusal)),
            Err(StoreError::NotFound) => Ok(MarkOutcome::NotFound),
            Err(e) => Err(e.into()),
        }
    }
}
