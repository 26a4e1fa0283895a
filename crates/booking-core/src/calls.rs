//! Phone calls, what was learned during them, and how promising they were.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CallId, TenantId};
use crate::phone::PhoneNumber;

/// What we know when a call starts (from `assistant-request` or any later message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallStart {
    pub call_id: CallId,
    pub tenant: TenantId,
    /// `None` for a withheld caller ID.
    pub caller: Option<PhoneNumber>,
    pub called: Option<PhoneNumber>,
    pub started_at: Timestamp,
}

/// What the model captured about the caller with `capture_lead`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedLead {
    pub caller_name: Option<String>,
    pub service_interest: Option<String>,
    pub wants_callback: Option<bool>,
    pub notes: Option<String>,
}

/// The end-of-call report, as the domain needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallReport {
    pub call_id: CallId,
    pub caller: Option<PhoneNumber>,
    /// The number that was called, when the report names it (fills a call row that has none).
    pub called: Option<PhoneNumber>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub ended_reason: Option<String>,
    pub summary: Option<String>,
    /// The structured-data plan's answers (caller name, service interest, callback wanted…).
    pub structured: CapturedLead,
    /// Whether the caller expressed an intent to buy or book, as judged by the analysis.
    pub buying_intent: Option<bool>,
}

impl CallReport {
    pub fn duration_seconds(&self) -> Option<u32> {
        let (s, e) = (self.started_at?, self.ended_at?);
        let secs = e.duration_since(s).as_secs();
        (secs >= 0).then(|| u32::try_from(secs).unwrap_or(u32::MAX))
    }
}

/// One line of a score: points and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreReason {
    pub points: u32,
    pub reason: String,
}

/// A call's lead score, 0..=100, with the reasons that add up to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadScore {
    pub total: u32,
    pub reasons: Vec<ScoreReason>,
    /// The caller's appointments marked no-show when the call was scored. Adds no points: the
    /// owner reads it beside the score and in the alert.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub no_shows: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl LeadScore {
    /// "Missed 2 earlier appointments (no-shows)", `None` for a caller without any.
    pub fn no_show_note(&self) -> Option<String> {
        crate::attendance::no_show_note(self.no_shows)
    }
}

/// A call as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    pub call_id: CallId,
    pub tenant: TenantId,
    pub caller: Option<PhoneNumber>,
    pub called: Option<PhoneNumber>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub duration_seconds: Option<u32>,
    pub ended_reason: Option<String>,
    pub summary: Option<String>,
    /// The last `status-update` status ("in-progress", "ended"…).
    pub last_status: Option<String>,
    pub lead: CapturedLead,
    /// Set once the end-of-call report has been processed; a repeated report changes nothing.
    pub score: Option<LeadScore>,
    pub hot_lead: bool,
    pub report_received_at: Option<Timestamp>,
}

/// The end of a call, ready to store in one unit of work with its alerts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishedCall {
    pub report: CallReport,
    pub score: LeadScore,
    pub hot_lead: bool,
    pub received_at: Timestamp,
}

/// Whether `finish_call` stored the report, or found it already stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishOutcome {
    Recorded,
    AlreadyRecorded,
}
