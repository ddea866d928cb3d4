//! Conversation memory (`rempart.conversation_id`): the pseudonym mapping of
//! a conversation and its turns, sealed in the registry's store with the
//! conversation's retention deadline.
//!
//! Chat completions are stateless — the client sends the history each turn —
//! so without memory each request starts a fresh mapping. With it, a value
//! detected once stays pseudonymised in later turns even where the detector
//! misses it (a surname alone, in capitals, with no cue), and keeps the same
//! placeholder across turns. A conversation linked to a registered data
//! subject (`rempart.subject_ref` = the subject's id) is sealed under that
//! subject's key: the subject's export lists it, erasure shreds it.
//!
//! Two concurrent requests in one conversation each start from the stored
//! mapping; the later save wins, and a value only the earlier one issued is
//! issued again when next seen. No value is ever sent in clear because of
//! it: the detector still runs on every turn.

use rempart_pii::Mapping;
use rempart_store::Conversation;
use rempart_store::registry::RegistryError;
use rempart_upstream::wire::RempartExtension;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::state::AppState;

/// An open conversation and the mapping stored for it.
pub struct Memory {
    conversation: Conversation,
    /// Placeholders issued in earlier turns (empty for a new conversation).
    pub known: Mapping,
}

/// What a served request adds to its conversation.
pub struct Exchange {
    /// The mapping after this request (JSON), sealed on save.
    pub mapping_json: Zeroizing<Vec<u8>>,
    /// The caller's newest message (what this turn asked).
    pub asked: String,
}

fn bad(param: &str, message: String) -> ApiError {
    ApiError::BadRequest {
        message,
        param: Some(param.to_owned()),
    }
}

fn registry_error(e: RegistryError) -> ApiError {
    match e {
        RegistryError::NotFound(_) | RegistryError::Erased(_) => bad(
            "rempart.subject_ref",
            format!("{e}: a conversation can only be linked to a registered, live data subject"),
        ),
        RegistryError::Invalid(message) => bad("rempart.conversation_id", message),
        other => crate::error::registry_error(other, "conversation store"),
    }
}

/// Open the request's conversation, if it names one. A `subject_ref` that
/// is a UUID links the conversation to that registered subject.
pub async fn open(
    state: &AppState,
    tenant: &str,
    ext: Option<&RempartExtension>,
) -> Result<Option<Memory>, ApiError> {
    let Some(ext) = ext else { return Ok(None) };
    let Some(raw) = ext.conversation_id.as_deref() else {
        return Ok(None);
    };
    let id = Uuid::parse_str(raw).map_err(|_| {
        bad(
            "rempart.conversation_id",
            "rempart.conversation_id is not a UUID".into(),
        )
    })?;
    let subject = ext
        .subject_ref
        .as_deref()
        .and_then(|s| Uuid::parse_str(s).ok());
    let (conversation, stored) = state
        .registry
        .open_conversation(tenant, id, subject)
        .await
        .map_err(registry_error)?;
    let known = match stored {
        None => Mapping::new(),
        Some(json) => serde_json::from_slice(&json).map_err(|_| {
            tracing::error!(conversation = %id, "Stored pseudonym map does not decode.");
            ApiError::Internal {
                what: "the conversation's stored pseudonym map does not decode".into(),
            }
        })?,
    };
    Ok(Some(Memory {
        conversation,
        known,
    }))
}

impl Memory {
    /// Store this request's mapping and its two turns (the newest message
    /// and the answer, both as the caller sees them).
    pub async fn save(
        &self,
        state: &AppState,
        tenant: &str,
        exchange: &Exchange,
        answer: &str,
    ) -> Result<(), ApiError> {
        state
            .registry
            .save_conversation(
                tenant,
                &self.conversation,
                &exchange.mapping_json,
                &[("user", &exchange.asked), ("assistant", answer)],
            )
            .await
            .map_err(registry_error)
    }
}

/// The mapping as stored (JSON), zeroised when dropped.
pub fn mapping_json(mapping: &Mapping) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    serde_json::to_vec(mapping)
        .map(Zeroizing::new)
        .map_err(|_| ApiError::Internal {
            what: "cannot encode the pseudonym map".into(),
        })
}
