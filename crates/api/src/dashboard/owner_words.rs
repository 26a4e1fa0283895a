//! The words the owner reads after cancelling, moving or marking an appointment from the dashboard: the
//! service's outcomes said for the clinic's staff (the voice model's words are booking-vapi's).

use booking_core::attendance::{Attendance, MarkRefusal};
use booking_core::service::{
    AgainstTheRules, CancelOutcome, CancelRefusal, MarkOutcome, RescheduleOutcome,
    RescheduleRefusal,
};
use booking_core::start::StartProblem;
use booking_core::tenant::ClinicZone;
use jiff::Timestamp;

/// How a notice shows: done, or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NoticeKind {
    Done,
    NotDone,
}

impl NoticeKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Done => "ok",
            NoticeKind::NotDone => "error",
        }
    }
}

/// "Thursday November 26 at 2:00 PM", on the clinic's clock.
fn when(zone: &ClinicZone, at: Timestamp) -> String {
    at.to_zoned_datetime(zone.tz().clone())
        .strftime("%A %B %-d at %-I:%M %p")
        .to_string()
}

/// Said of a change that a phone call made meanwhile (the owner does not use codes).
const CHANGED_MEANWHILE: &str =
    "The appointment changed meanwhile; reload the page to see it as it is now.";

pub(super) fn cancel_notice(zone: &ClinicZone, outcome: &CancelOutcome) -> (NoticeKind, String) {
    let not_done = |s: String| (NoticeKind::NotDone, s);
    match outcome {
        CancelOutcome::Cancelled { service, start, .. } => (
            NoticeKind::Done,
            format!(
                "The appointment for {service} on {} is cancelled; the patient is sent a text confirming it.",
                when(zone, *start)
            ),
        ),
        CancelOutcome::Refused(CancelRefusal::NotConfirmed { status }) => not_done(format!(
            "The booking is {}, not confirmed.",
            status.as_str()
        )),
        CancelOutcome::Refused(CancelRefusal::NoLongerCancellable) => {
            not_done("That appointment can no longer be cancelled.".into())
        }
        CancelOutcome::NotFound { .. } => not_done("There is no such appointment.".into()),
        CancelOutcome::ChooseOne { .. }
        | CancelOutcome::NeedsCode(_)
        | CancelOutcome::CodeRefused(_)
        | CancelOutcome::Refused(CancelRefusal::HiddenNumber | CancelRefusal::CodeNotSent(_)) => {
            not_done(CHANGED_MEANWHILE.into())
        }
    }
}

fn against_the_rules(zone: &ClinicZone, a: &AgainstTheRules) -> String {
    let why = format!("That time cannot be booked: {}.", a.why);
    close_times(zone, why, &a.alternatives)
}

fn close_times(zone: &ClinicZone, said: String, alternatives: &[Timestamp]) -> String {
    if alternatives.is_empty() {
        return said;
    }
    let list: Vec<String> = alternatives.iter().map(|t| when(zone, *t)).collect();
    format!("{said} Close free times: {}.", list.join(", "))
}

pub(super) fn reschedule_notice(
    zone: &ClinicZone,
    outcome: &RescheduleOutcome,
) -> (NoticeKind, String) {
    let not_done = |s: String| (NoticeKind::NotDone, s);
    match outcome {
        RescheduleOutcome::Rescheduled { service, start, .. } => (
            NoticeKind::Done,
            format!(
                "The appointment for {service} is moved to {}; the patient is sent a text with the new time.",
                when(zone, *start)
            ),
        ),
        RescheduleOutcome::Taken { alternatives } if alternatives.is_empty() => {
            not_done("That time is taken, and nothing close to it is free.".into())
        }
        RescheduleOutcome::Taken { alternatives } => not_done(close_times(
            zone,
            "That time is taken.".into(),
            alternatives,
        )),
        RescheduleOutcome::Refused(why) => not_done(match why {
            RescheduleRefusal::NotConfirmed { status } => {
                format!("The booking is {}, not confirmed.", status.as_str())
            }
            RescheduleRefusal::ServiceGone { service } => {
                format!("The clinic no longer offers {service} for booking.")
            }
            RescheduleRefusal::NoSuchStart(StartProblem::Skipped(dt)) => format!(
                "{} does not exist on that day because the clocks change; pick another time.",
                dt.strftime("%-I:%M %p")
            ),
            RescheduleRefusal::NoSuchStart(StartProblem::OutOfRange) => {
                "That start is out of range; pick another time.".into()
            }
            RescheduleRefusal::SameTime => "The appointment is already at that time.".into(),
            RescheduleRefusal::AgainstTheRules(a) => against_the_rules(zone, a),
            RescheduleRefusal::NoLongerMovable => {
                "That appointment can no longer be moved (it was cancelled or moved meanwhile)."
                    .into()
            }
            RescheduleRefusal::NotTheirService { provider, service } => format!(
                "{provider} does not take {service} appointments (retired, or not one of their services)."
            ),
            RescheduleRefusal::ProviderFull { provider } => format!(
                "{provider} has no room for another appointment then (their daily or weekly limit)."
            ),
            RescheduleRefusal::HiddenNumber | RescheduleRefusal::CodeNotSent(_) => {
                CHANGED_MEANWHILE.into()
            }
        }),
        RescheduleOutcome::NotFound { .. } => not_done("There is no such appointment.".into()),
        RescheduleOutcome::ChooseOne { .. }
        | RescheduleOutcome::NeedsCode(_)
        | RescheduleOutcome::CodeRefused(_) => not_done(CHANGED_MEANWHILE.into()),
    }
}

/// "attended", "no-show".
pub(super) fn attendance_label(a: Attendance) -> &'static str {
    match a {
        Attendance::Attended => "attended",
        Attendance::NoShow => "no-show",
    }
}

pub(super) fn attendance_notice(outcome: MarkOutcome) -> (NoticeKind, String) {
    match outcome {
        MarkOutcome::Marked {
            attendance: Some(a),
        } => (NoticeKind::Done, format!("Marked {}.", attendance_label(a))),
        MarkOutcome::Marked { attendance: None } => {
            (NoticeKind::Done, "The mark is cleared.".into())
        }
        MarkOutcome::Refused(MarkRefusal::NotAnAppointment { .. }) => (
            NoticeKind::NotDone,
            "Only a confirmed appointment can be marked attended or no-show.".into(),
        ),
        MarkOutcome::Refused(MarkRefusal::NotStarted { .. }) => (
            NoticeKind::NotDone,
            "An appointment can be marked attended or no-show once its time has started.".into(),
        ),
        MarkOutcome::NotFound => (NoticeKind::NotDone, "There is no such appointment.".into()),
    }
}
