//! The tool-call runner: one tool call of a Vapi message, end to end. The replay log (keyed by
//! call, tool call id and tool) is claimed first, so that a replayed tool call id gets the stored
//! answer and has no second effect; then the use-case runs and its one-line answer is stored.

use std::time::{Duration, Instant};

use booking_core::ports::{StoreError, ToolCallClaim, ToolCallKey};
use booking_core::service::{CallContext, JoinWaitlist, ReserveSlot, ServiceError};
use booking_core::tenant::Tenant;
use booking_vapi::{
    ArgRules, MessageContext, OneLine, Speak, ToolCall, ToolCallRequest, ToolOutcome, ToolResult,
};

use crate::state::AppState;

/// Said when our side fails (the database is down): the model can apologise and retry.
const OUR_FAULT: &str =
    "Sorry, the booking system is not responding right now. Please try again in a moment.";
const UNKNOWN_NUMBER: &str =
    "This phone number is not set up for bookings, so this cannot be done on this call.";

/// Whether a tool can queue a text, so that the outbox worker should look now rather than at
/// its next idle tick (finding, availability and holds never text anyone).
pub(crate) fn may_queue_texts(name: &str) -> bool {
    use booking_vapi::ToolName;
    !matches!(
        ToolName::parse(name),
        Some(
            ToolName::CheckAvailability
                | ToolName::ReserveSlot
                | ToolName::CaptureLead
                | ToolName::JoinWaitlist
        )
    )
}

/// One tool call, end to end: tenant, arguments, replay log, the use-case, the one-line answer.
pub(crate) async fn run_tool_call(
    state: &AppState,
    ctx: &MessageContext,
    tenant: &Result<Option<Tenant>, StoreError>,
    call: &ToolCallRequest,
    name: &str,
) -> ToolOutcome {
    let started = Instant::now();
    let (outcome, label) = match tenant {
        Err(e) => {
            tracing::error!(error = %e, "tool call: tenant lookup failed");
            (ToolOutcome::error(OUR_FAULT), "error")
        }
        Ok(None) => (ToolOutcome::error(UNKNOWN_NUMBER), "error"),
        Ok(Some(tenant)) => {
            let rules = ArgRules {
                code_length: state.service.config().otp.code_length,
            };
            let parsed = if call.name.is_empty() {
                match call.arguments() {
                    Some(args) => {
                        ToolCall::parse(name, &serde_json::Value::Object(args.clone()), &rules)
                    }
                    None => ToolCall::parse(name, &serde_json::Value::Bool(false), &rules),
                }
            } else {
                call.parse(&rules)
            };
            match parsed {
                Err(e) => (e.outcome(), "refused"),
                Ok(tool) => with_replay_log(state, ctx, tenant, call, name, tool).await,
            }
        }
    };
    let tool_label = booking_vapi::ToolName::parse(name)
        .map(|t| t.as_str())
        .unwrap_or("unknown");
    state.metrics.inc(
        "tool_calls_total",
        &[("tool", tool_label), ("outcome", label)],
    );
    state.metrics.observe(
        "tool_call_seconds",
        &[("tool", tool_label)],
        started.elapsed(),
    );
    tracing::info!(tool = tool_label, outcome = label, "tool call");
    outcome
}

async fn with_replay_log(
    state: &AppState,
    ctx: &MessageContext,
    tenant: &Tenant,
    call: &ToolCallRequest,
    name: &str,
    tool: ToolCall,
) -> (ToolOutcome, &'static str) {
    let log = &state.store;
    let key = ToolCallKey {
        call: ctx.call_id.clone(),
        id: call.id.clone(),
        tool: name.to_owned(),
    };
    let mut waited = Duration::ZERO;
    loop {
        match log
            .begin_tool_call(tenant.id, &key, state.clock.now())
            .await
        {
            Ok(ToolCallClaim::New) => break,
            Ok(ToolCallClaim::Done(stored)) => {
                return match serde_json::from_str::<ToolOutcome>(&stored) {
                    Ok(o) => (o, "replay"),
                    Err(_) => (ToolOutcome::Result(OneLine::new(&stored)), "replay"),
                };
            }
            Ok(ToolCallClaim::InProgress) if waited < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                waited += Duration::from_millis(50);
            }
            Ok(ToolCallClaim::InProgress) => {
                return (
                    ToolOutcome::error(
                        "This request is still being processed; please wait a moment and ask again.",
                    ),
                    "error",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "tool call log unavailable");
                return (ToolOutcome::error(OUR_FAULT), "error");
            }
        }
    }
    let cctx = CallContext {
        tenant: tenant.clone(),
        call_id: ctx.call_id.clone(),
        caller: ctx.caller.clone(),
    };
    match execute(state, &cctx, tool).await {
        Ok(result) => {
            let ok = result.is_ok();
            let outcome = result.into_outcome();
            let stored = serde_json::to_string(&outcome).unwrap_or_default();
            if let Err(e) = log
                .finish_tool_call(tenant.id, &key, &stored, state.clock.now())
                .await
            {
                tracing::warn!(error = %e, "storing a tool result failed");
            }
            (outcome, if ok { "ok" } else { "refused" })
        }
        Err(e) => {
            tracing::error!(error = %e, "tool call failed");
            if let Err(e) = log.abandon_tool_call(tenant.id, &key).await {
                tracing::warn!(error = %e, "releasing a failed tool call failed");
            }
            (ToolOutcome::error(OUR_FAULT), "error")
        }
    }
}

/// Runs the use-case of a tool call and says its outcome to the model (booking-vapi's words).
async fn execute(
    state: &AppState,
    ctx: &CallContext,
    tool: ToolCall,
) -> Result<ToolResult, ServiceError> {
    let zone = &ctx.tenant.config.zone;
    let done = |outcome: &dyn Speak| outcome.speak(zone);
    let s = &state.service;
    Ok(match tool {
        ToolCall::CheckAvailability {
            service,
            date,
            after,
            provider,
        } => done(
            &s.check_availability(ctx, &service, date, after, provider.as_deref())
                .await?,
        ),
        ToolCall::ReserveSlot {
            start,
            service,
            caller_name,
            phone,
            provider,
        } => {
            let input = ReserveSlot {
                start,
                service,
                caller_name,
                phone,
                provider,
            };
            done(&s.reserve_slot(ctx, input).await?)
        }
        ToolCall::SendOtp { hold_id, phone } => done(&s.send_otp(ctx, hold_id, phone).await?),
        ToolCall::VerifyOtp { hold_id, code } => done(&s.verify_otp(ctx, hold_id, &code).await?),
        ToolCall::SendConfirmationSms { appointment_id } => {
            done(&s.send_confirmation_sms(ctx, appointment_id).await?)
        }
        ToolCall::CancelAppointment {
            appointment_id,
            code,
        } => done(
            &s.cancel_appointment(ctx, appointment_id, code.as_ref())
                .await?,
        ),
        ToolCall::RescheduleAppointment {
            appointment_id,
            new_start,
            code,
        } => done(
            &s.reschedule_appointment(ctx, appointment_id, &new_start, code.as_ref())
                .await?,
        ),
        ToolCall::CaptureLead(lead) => done(&s.capture_lead(ctx, &lead).await?),
        ToolCall::JoinWaitlist {
            service,
            caller_name,
            from_date,
            to_date,
            provider,
            part_of_day,
        } => {
            let input = JoinWaitlist {
                service,
                caller_name,
                from: from_date,
                to: to_date,
                provider,
                part_of_day,
            };
            done(&s.join_waitlist(ctx, input).await?)
        }
    })
}

#[cfg(test)]
mod tests {
    use booking_vapi::ToolName;

    use super::may_queue_texts;

    #[test]
    fn the_worker_is_woken_after_every_tool_that_can_text() {
        for tool in ToolName::ALL {
            let texts = matches!(
                tool,
                ToolName::SendOtp
                    | ToolName::VerifyOtp
                    | ToolName::SendConfirmationSms
                    | ToolName::CancelAppointment
                    | ToolName::RescheduleAppointment
            );
            assert_eq!(may_queue_texts(tool.as_str()), texts, "{}", tool.as_str());
        }
        // A name we do not know costs a look, never a delay.
        assert!(may_queue_texts("something_new"));
    }
}
