//! `/v1/subjects`: the data-subject registry over HTTP, scoped to the
//! caller's tenant (the API key's). Personal data travels only in request
//! and response bodies — never in URLs, so never in access logs.
//!
//! | method and path | what |
//! |---|---|
//! | `POST /v1/subjects` | register (body: a profile) → `{"id"}` |
//! | `POST /v1/subjects/search` | find by one of `email`, `phone`, `iban`, `national_id`, `external_ref`, `name` (partial) |
//! | `GET /v1/subjects/{id}` | the profile, decrypted |
//! | `GET /v1/subjects/{id}/export` | everything held (GDPR Art. 15), with audit record ids |
//! | `DELETE /v1/subjects/{id}` | erase (Art. 17): crypto-shred, delete, tombstone → the receipt |

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use rempart_store::registry::{Lookup, Profile, RegistryError};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::request::Principal;

fn api_error(e: RegistryError) -> ApiError {
    crate::error::registry_error(e, "subject registry")
}

fn parse_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| ApiError::BadRequest {
        message: "the subject id is not a UUID".into(),
        param: Some("id".into()),
    })
}

/// `POST /v1/subjects`.
pub async fn add(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let profile: Profile = crate::parse_body(body, state.config.server.max_body_bytes)?;
    let id = state
        .registry
        .add(&p.tenant, &profile)
        .await
        .map_err(api_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "object": "subject"})),
    )
        .into_response())
}

/// `POST /v1/subjects/search`: the body is one [`Lookup`], e.g.
/// `{"email": "…"}` or `{"name": "dup"}`.
pub async fn search(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let lookup: Lookup = crate::parse_body(body, state.config.server.max_body_bytes)?;
    let found = state
        .registry
        .find(&p.tenant, &lookup)
        .await
        .map_err(api_error)?;
    Ok(Json(json!({"object": "list", "data": found})))
}

/// `GET /v1/subjects/{id}`.
pub async fn get(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let found = state
        .registry
        .get(&p.tenant, parse_id(&id)?)
        .await
        .map_err(api_error)?;
    Ok(Json(json!(found)))
}

/// `GET /v1/subjects/{id}/export`.
pub async fn export(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let audit = state.auditor.records_of_subject(&id.to_string()).await?;
    let export = state
        .registry
        .export(&p.tenant, id, audit)
        .await
        .map_err(api_error)?;
    Ok(Json(json!(export)))
}

/// `DELETE /v1/subjects/{id}`.
pub async fn erase(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let mut receipt = state
        .registry
        .erase(&p.tenant, id)
        .await
        .map_err(|e| match e {
            RegistryError::Store(rempart_store::Error::NotFound(_)) => ApiError::Missing {
                what: format!("no data subject {id} for this tenant"),
            },
            e => api_error(e),
        })?;
    // Documents about the subject went with it: the tenant's in-memory
    // indexes are rebuilt from the store on next use.
    if receipt.removed.documents > 0 {
        state.retriever.forget_tenant(&p.tenant).await;
    }
    receipt.audit_tombstone = Some(state.auditor.tombstone_subject(&id.to_string()).await?);
    tracing::info!(subject = %id, removed = receipt.removed.total(), "Data subject erased.");
    Ok(Json(json!(receipt)))
}
