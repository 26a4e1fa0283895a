//! `POST /admin/tenants/{id}/owners`: the operator creates a clinic owner's dashboard account.

use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::TenantId;
use booking_core::accounts::{Email, Owner, OwnerId, check_password_policy};
use booking_core::ports::StoreError;
use serde::Deserialize;
use serde_json::json;

use super::passwords::hash_password;
use crate::error::ApiError;
use crate::http::admin::require_admin;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOwnerJson {
    email: String,
    password: String,
}

pub async fn create_owner(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<NewOwnerJson>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let tenant: TenantId = path.parse().map_err(|_| ApiError::NotFound)?;
    state
        .store
        .tenant(tenant)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut problems = Vec::new();
    let email = Email::parse(&body.email)
        .map_err(|e| problems.push(json!({"field": "email", "message": e.to_string()})))
        .ok();
    if let Err(e) = check_password_policy(&body.password) {
        problems.push(json!({"field": "password", "message": e.to_string()}));
    }
    let Some(email) = email.filter(|_| problems.is_empty()) else {
        return Err(ApiError::Invalid(json!(problems)));
    };
    let password = body.password.clone();
    let salt = state.random.bytes16();
    let password_hash = web::block(move || hash_password(&password, salt))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::Internal
        })?;
    let owner = Owner {
        id: OwnerId::from_random_bytes(state.random.bytes16()),
        tenant,
        email,
        password_hash,
        created_at: state.clock.now(),
        onboarded_at: None,
    };
    let owner = state
        .accounts
        .create_owner(&owner)
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(_) => {
                ApiError::Conflict("an owner account with this email already exists".into())
            }
            other => other.into(),
        })?;
    tracing::info!(owner = %owner.id, tenant = %owner.tenant, "owner account created");
    Ok(HttpResponse::Created().json(json!({
        "id": owner.id.to_string(),
        "tenant_id": owner.tenant.to_string(),
        "email": owner.email.as_str(),
        "created_at": owner.created_at.to_string(),
    })))
}
