//! A call's life: its start and status, `capture_lead`, and the end-of-call report that scores
//! the lead and queues the hot-lead alerts.

use serde::Serialize;

use crate::booking::{Booking, BookingStatus};
use crate::calls::{CallReport, CallStart, CapturedLead, FinishOutcome, FinishedCall, LeadScore};
use crate::ids::CallId;
use crate::outbox::{DedupeKey, MessageKind};
use crate::ports::StoreError;
use crate::scoring::LeadSignals;
use crate::service::{
    BookingService, CallContext, ServiceError, ServiceResult, clean_text, find_service,
};
use crate::tenant::Tenant;
use crate::{messages, scoring};

/// What `capture_lead` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeadOutcome {
    Captured { wants_callback: bool },
    Refused(LeadRefusal),
}

/// Why a lead was not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeadRefusal {
    /// The tool call came with no call id to attach the lead to.
    NoCall,
}

/// What `end_of_call` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndOfCallOutcome {
    /// `false` when a report for this call had already been processed: nothing changed.
    pub recorded: bool,
    /// The score stored for the call (the first one, for a repeated report).
    pub score: Option<LeadScore>,
    pub hot_lead: bool,
    /// Alerts queued by this report.
    pub alerts_queued: u32,
}

impl BookingService {
    /// Records a call's start (from `assistant-request` or the first message seen).
    pub async fn record_call_start(&self, start: &CallStart) -> ServiceResult<()> {
        Ok(self.store.record_call_start(start).await?)
    }

    /// A `status-update`. `Ok(false)` when the call is unknown (nothing stored).
    pub async fn record_call_status(
        &self,
        tenant: &Tenant,
        call: &CallId,
        status: &str,
    ) -> ServiceResult<bool> {
        let status = clean_text(status, 64);
        match self
            .store
            .record_call_status(tenant.id, call, &status, self.clock.now())
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// `capture_lead(caller_name?, service_interest?, wants_callback?, notes?)`.
    pub async fn capture_lead(
        &self,
        ctx: &CallContext,
        lead: &CapturedLead,
    ) -> ServiceResult<LeadOutcome> {
        let Some(call) = &ctx.call_id else {
            return Ok(LeadOutcome::Refused(LeadRefusal::NoCall));
        };
        let now = self.clock.now();
        let text = |v: &Option<String>, max| {
            v.as_deref()
                .map(|s| clean_text(s, max))
                .filter(|s| !s.is_empty())
        };
        let lead = CapturedLead {
            caller_name: text(&lead.caller_name, 100),
            service_interest: text(&lead.service_interest, 120),
            wants_callback: lead.wants_callback,
            notes: text(&lead.notes, 2000),
        };
        self.store
            .record_call_start(&CallStart {
                call_id: call.clone(),
                tenant: ctx.tenant.id,
                caller: ctx.caller.clone(),
                called: None,
                started_at: now,
            })
            .await?;
        self.store
            .record_lead(ctx.tenant.id, call, &lead, now)
            .await?;
        Ok(LeadOutcome::Captured {
            wants_callback: lead.wants_callback == Some(true),
        })
    }

    /// `end-of-call-report`: stores the report, scores the call and, for a hot lead, queues one
    /// alert per alert number, all in one store call. A repeated report changes nothing.
    pub async fn end_of_call(
        &self,
        tenant: &Tenant,
        report: CallReport,
    ) -> ServiceResult<EndOfCallOutcome> {
        let cfg = &tenant.config;
        let now = self.clock.now();
        let call_id = report.call_id.clone();
        let record = match self.store.call(tenant.id, &call_id).await? {
            Some(r) if r.report_received_at.is_some() => {
                return Ok(EndOfCallOutcome {
                    recorded: false,
                    hot_lead: r.hot_lead,
                    score: r.score,
                    alerts_queued: 0,
                });
            }
            Some(r) => r,
            None => {
                self.store
                    .record_call_start(&CallStart {
                        call_id: call_id.clone(),
                        tenant: tenant.id,
                        caller: report.caller.clone(),
                        called: report.called.clone(),
                        started_at: report.started_at.or(report.ended_at).unwrap_or(now),
                    })
                    .await?;
                self.store.call(tenant.id, &call_id).await?.ok_or_else(|| {
                    ServiceError::Internal("the call just recorded is missing".into())
                })?
            }
        };

        // What the model captured during the call wins over the analysis after it.
        let stored = &record.lead;
        let structured = &report.structured;
        let pick = |a: &Option<String>, b: &Option<String>| {
            a.clone()
                .filter(|s| !s.trim().is_empty())
                .or_else(|| b.clone().filter(|s| !s.trim().is_empty()))
        };
        let caller_name = pick(&stored.caller_name, &structured.caller_name);
        let interest = pick(&stored.service_interest, &structured.service_interest);
        let wants_callback =
            stored.wants_callback == Some(true) || structured.wants_callback == Some(true);

        let booked: Vec<Booking> = self
            .store
            .bookings_for_call(tenant.id, &call_id)
            .await?
            .into_iter()
            .filter(|b| b.status == BookingStatus::Confirmed)
            .collect();
        let booked_value = booked
            .iter()
            .filter_map(|b| cfg.service(b.service.as_str()).and_then(|s| s.value_cents))
            .max();
        let interest_value = interest
            .as_deref()
            .and_then(|i| find_service(cfg, i))
            .and_then(|s| s.value_cents);
        let caller = report.caller.clone().or_else(|| record.caller.clone());
        let repeat_caller = match &caller {
            Some(p) => {
                let before = record.started_at.or(report.started_at).unwrap_or(now);
                self.store.prior_calls_from(tenant.id, p, before).await? > 0
            }
            None => false,
        };
        let signals = LeadSignals {
            booked: !booked.is_empty(),
            service_value_cents: booked_value.or(interest_value),
            duration_seconds: report.duration_seconds(),
            wants_callback,
            buying_intent: report.buying_intent == Some(true),
            repeat_caller,
        };
        let score = scoring::score(&signals, &self.config.score_weights);
        let hot_lead = score.total >= cfg.hot_lead_threshold.get();

        let mut alerts = Vec::new();
        if hot_lead {
            let name = caller_name.or_else(|| booked.first().map(|b| b.caller_name.clone()));
            let service = booked.first().map(|b| b.service.to_string()).or(interest);
            let body = messages::hot_lead_text(
                &cfg.name,
                name.as_deref(),
                caller.as_ref(),
                service.as_deref(),
                &score,
            );
            let mut seen = Vec::new();
            for alert in &cfg.alert_numbers {
                if seen.contains(&alert) {
                    continue;
                }
                seen.push(alert);
                alerts.push(self.new_message(
                    tenant.id,
                    MessageKind::HotLead,
                    DedupeKey::hot_lead(&call_id, alert),
                    alert,
                    body.clone(),
                    now,
                    None,
                    Some(&call_id),
                    now,
                ));
            }
        }
        let finished = FinishedCall {
            report,
            score: score.clone(),
            hot_lead,
            received_at: now,
        };
        match self
            .store
            .finish_call(tenant.id, &finished, &alerts)
            .await?
        {
            FinishOutcome::Recorded => Ok(EndOfCallOutcome {
                recorded: true,
                score: Some(score),
                hot_lead,
                alerts_queued: alerts.len() as u32,
            }),
            FinishOutcome::AlreadyRecorded => {
                let r = self.store.call(tenant.id, &call_id).await?;
                Ok(EndOfCallOutcome {
                    recorded: false,
                    hot_lead: r.as_ref().is_some_and(|r| r.hot_lead),
                    score: r.and_then(|r| r.score),
                    alerts_queued: 0,
                })
            }
        }
    }
}
