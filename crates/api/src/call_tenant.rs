//! The clinic a Vapi message is for: always the one the call reached (phone-number id, else
//! the called number, else the saved assistant for a call without a number), never one named
//! in a tool argument.

use booking_core::ports::StoreError;
use booking_core::tenant::Tenant;
use booking_vapi::MessageContext;

use crate::state::AppState;

/// The tenant of the number the call reached (kept for a moment by the store, see
/// [`crate::cached_tenants`]).
///
/// The clinic is the one of the phone-number id (`call.phoneNumberId`), else of the called
/// number, else of the saved assistant (`call.assistantId`, for a call without a number). Every
/// one of these the message carries must agree: a phone-number id whose clinic does not own the
/// called number, or an assistant registered by another clinic than the number's, is refused
/// (`None`, as for an unknown number) and logged as an error.
pub async fn resolve_tenant(
    state: &AppState,
    ctx: &MessageContext,
) -> Result<Option<Tenant>, StoreError> {
    let mut found = None;
    if let Some(id) = &ctx.phone_number_id
        && let Some(t) = lookup(state, Lookup::PhoneNumberId(id)).await?
    {
        if let Some(called) = &ctx.called
            && !t.config.called_numbers.iter().any(|c| &c.number == called)
        {
            let owner = lookup(state, Lookup::Called(called)).await?;
            refuse_mismatch(state, ctx, "phone-number id", &t, owner.as_ref());
            return Ok(None);
        }
        found = Some(t);
    }
    if found.is_none()
        && let Some(called) = &ctx.called
    {
        found = lookup(state, Lookup::Called(called)).await?;
    }
    if let Some(assistant) = &ctx.assistant_id
        && !found
            .as_ref()
            .is_some_and(|t| t.config.vapi_assistant_ids.contains(assistant))
    {
        let by_assistant = lookup(state, Lookup::AssistantId(assistant)).await?;
        match (&found, by_assistant) {
            (None, by_assistant) => found = by_assistant,
            (Some(t), Some(other)) if other.id != t.id => {
                refuse_mismatch(state, ctx, "assistant id", t, Some(&other));
                return Ok(None);
            }
            _ => {}
        }
    }
    Ok(found)
}

/// One way to find a clinic from a message.
enum Lookup<'a> {
    PhoneNumberId(&'a booking_core::VoiceLineId),
    Called(&'a booking_core::PhoneNumber),
    AssistantId(&'a booking_core::AssistantId),
}

async fn lookup(state: &AppState, by: Lookup<'_>) -> Result<Option<Tenant>, StoreError> {
    match by {
        Lookup::PhoneNumberId(id) => state.store.tenant_by_voice_line_id(id).await,
        Lookup::Called(n) => state.store.tenant_by_called_number(n).await,
        Lookup::AssistantId(id) => state.store.tenant_by_assistant_id(id).await,
    }
}

/// Logs a call whose identifiers name different clinics (or a phone-number id on a number its
/// clinic does not own): someone registered an id that is not theirs, or Vapi is misconfigured.
fn refuse_mismatch(
    state: &AppState,
    ctx: &MessageContext,
    what: &'static str,
    claimed_by: &Tenant,
    owner: Option<&Tenant>,
) {
    state
        .metrics
        .inc("vapi_tenant_mismatch_total", &[("by", what)]);
    tracing::error!(
        by = what,
        called = ?ctx.called,
        phone_number_id = ctx.phone_number_id.as_ref().map(|i| i.as_str()),
        assistant_id = ctx.assistant_id.as_ref().map(|i| i.as_str()),
        claimed_by = %claimed_by.id,
        number_owner = ?owner.map(|t| t.id),
        "refused a call: its {what} and its called number name different clinics"
    );
}
