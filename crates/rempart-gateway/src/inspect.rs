//! Step 3 and 6 of the request path: inspect every text of a request for
//! personal data, and pseudonymise what the chosen deployment's tier
//! requires. Fail-closed: an inspection error or an exceeded budget refuses
//! the request; nothing is forwarded in clear.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rempart_pii::{Entity, EntityType, Mapping};
use rempart_policy::{Admitted, Sensitivity, TrustTier};
use rempart_upstream::wire::{ChatRequest, Content, Part};
use serde_json::Value;

use crate::config::{PiiMode, Tenant};
use crate::error::ApiError;

/// A personal-data detector, as the gateway uses it. The default is
/// `rempart_pii`'s; tests inject failing ones.
pub trait Inspector: Send + Sync {
    /// Entities in `text` (byte offsets).
    fn detect(&self, text: &str) -> Result<Vec<Entity>, String>;
    /// Whether `text` carries special-category cues (GDPR Art. 9).
    fn special_category(&self, text: &str) -> bool;
}

/// What inspection found, per text of the request (in visiting order).
#[derive(Debug, Default)]
pub struct Inspection {
    entities: Vec<Vec<Entity>>,
    /// Counts by type.
    pub counts: BTreeMap<EntityType, u32>,
    /// The request's sensitivity.
    pub sensitivity: Sensitivity,
}

impl Inspection {
    /// `X-Rempart-Pii` value: `PERSON=2,IBAN=1` (counts, never values).
    pub fn header_value(&self) -> String {
        if self.counts.is_empty() {
            return "none".into();
        }
        self.counts
            .iter()
            .map(|(k, v)| format!("{}={v}", k.as_str()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Counts keyed by wire name, for the audit record.
    pub fn counts_by_name(&self) -> BTreeMap<String, u32> {
        self.counts
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), *v))
            .collect()
    }
}

/// Visit every text of a request that goes upstream, in a fixed order:
/// message contents (strings and text parts) and tool-call arguments.
fn visit_texts(
    req: &mut ChatRequest,
    mut f: impl FnMut(&mut String) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    for m in &mut req.messages {
        match &mut m.content {
            Some(Content::Text(t)) => f(t)?,
            Some(Content::Parts(parts)) => {
                for p in parts {
                    if let Part::Text { text, .. } = p {
                        f(text)?;
                    }
                }
            }
            None => {}
        }
        for call in m.tool_calls.iter_mut().flatten() {
            if let Some(Value::String(args)) = call.pointer_mut("/function/arguments") {
                f(args)?;
            }
        }
    }
    Ok(())
}

/// The texts of a request that go upstream, in [`visit_texts`]'s order.
fn texts(req: &ChatRequest) -> Vec<&str> {
    let mut out = Vec::new();
    for m in &req.messages {
        match &m.content {
            Some(Content::Text(t)) => out.push(t.as_str()),
            Some(Content::Parts(parts)) => {
                for p in parts {
                    if let Part::Text { text, .. } = p {
                        out.push(text.as_str());
                    }
                }
            }
            None => {}
        }
        for call in m.tool_calls.iter().flatten() {
            if let Some(Value::String(args)) = call.pointer("/function/arguments") {
                out.push(args.as_str());
            }
        }
    }
    out
}

/// Run a detector on one text, turning a panic inside it into an error:
/// fail-closed, the request is refused instead of the connection dropping.
pub fn guarded_detect(
    inspector: &dyn Inspector,
    text: &str,
) -> Result<(Vec<Entity>, bool), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let found = inspector.detect(text)?;
        Ok((found, inspector.special_category(text)))
    }))
    .unwrap_or_else(|_| Err("the personal-data detector failed".into()))
}

/// Inspect a chat request within `budget`.
pub fn inspect(
    req: &ChatRequest,
    inspector: &dyn Inspector,
    budget: Duration,
) -> Result<Inspection, ApiError> {
    inspect_texts(&texts(req), inspector, budget)
}

/// Inspect texts within `budget`. A detector that errs or panics, or an
/// exceeded budget, refuses the request (fail-closed).
pub fn inspect_texts(
    texts: &[&str],
    inspector: &dyn Inspector,
    budget: Duration,
) -> Result<Inspection, ApiError> {
    let started = Instant::now();
    let mut out = Inspection::default();
    let mut special = false;
    for text in texts {
        let (found, cue) =
            guarded_detect(inspector, text).map_err(|reason| ApiError::PiiRefusal { reason })?;
        for e in &found {
            *out.counts.entry(e.kind).or_insert(0) += 1;
        }
        special |= cue;
        out.entities.push(found);
        if started.elapsed() > budget {
            return Err(ApiError::PiiRefusal {
                reason: format!(
                    "inspection exceeded its budget of {} ms",
                    budget.as_millis()
                ),
            });
        }
    }
    out.sensitivity = if special {
        Sensitivity::SpecialCategory
    } else if out.counts.is_empty() {
        Sensitivity::None
    } else {
        Sensitivity::Personal
    };
    Ok(out)
}

/// A request prepared for one admitted deployment: pseudonymised as its tier
/// requires. Only [`prepare_outbound`] makes one, and the call step demands
/// it together with the matching `Admitted` proof.
#[derive(Debug)]
pub struct Outbound {
    request: ChatRequest,
    tier: TrustTier,
    /// The placeholders issued (empty when nothing was replaced).
    pub mapping: Mapping,
}

impl Outbound {
    /// Bytes of message text in the outgoing request.
    pub fn prompt_bytes(&self) -> usize {
        self.request.messages.iter().map(|m| m.text_len()).sum()
    }

    /// The request to send, checked against the admitted deployment.
    pub fn request_for(&self, admitted: &Admitted) -> Result<&ChatRequest, ApiError> {
        if admitted.tier() != self.tier {
            return Err(ApiError::Internal {
                what: "outbound request prepared for another tier".into(),
            });
        }
        Ok(&self.request)
    }
}

/// Pseudonymise a request for a deployment of `admitted`'s tier. `known`
/// holds the placeholders of the conversation's earlier turns (empty
/// without conversation memory): their values are replaced wherever they
/// occur, detected or not, and keep their placeholders.
pub fn prepare_outbound(
    req: &ChatRequest,
    inspection: &Inspection,
    tenant: &Tenant,
    admitted: &Admitted,
    known: &Mapping,
) -> Result<Outbound, ApiError> {
    let tier = admitted.tier();
    let mode = tenant.pii_mode(tier);
    let mut mapping = known.clone();
    let mut request = req.clone();
    if mode != PiiMode::None && !(inspection.counts.is_empty() && mapping.is_empty()) {
        let mut i = 0usize;
        visit_texts(&mut request, |text| {
            let detected = inspection
                .entities
                .get(i)
                .map(Vec::as_slice)
                .unwrap_or_default();
            i += 1;
            let mut entities = detected.to_vec();
            let select = |e: &Entity| match mode {
                PiiMode::All => true,
                PiiMode::DirectIdentifiers => e.kind.is_direct_identifier(),
                PiiMode::None => false,
            };
            // Issue this text's values first, so that a value detected in
            // one place is caught where the detector missed it elsewhere in
            // the same text (a first name alone, then inside a full name),
            // as are values replaced earlier in this request.
            rempart_pii::pseudonymise(text, &entities, &mut mapping, select).map_err(pii_error)?;
            entities.extend(mapping.find_known(text).map_err(pii_error)?);
            let p = rempart_pii::pseudonymise(text, &entities, &mut mapping, select)
                .map_err(pii_error)?;
            *text = p.into_text();
            Ok(())
        })?;
    }
    Ok(Outbound {
        request,
        tier,
        mapping,
    })
}

fn pii_error(e: rempart_pii::PseudoError) -> ApiError {
    // PseudoError's Display names types and offsets only.
    ApiError::PiiRefusal {
        reason: e.to_string(),
    }
}

/// The detector of `rempart-pii`, built once (its automata compile at start).
pub struct PiiInspector {
    detector: rempart_pii::Detector,
}

impl PiiInspector {
    /// The default detector (every type, name lists on).
    pub fn new() -> PiiInspector {
        PiiInspector {
            detector: rempart_pii::Detector::new(),
        }
    }
}

impl Default for PiiInspector {
    fn default() -> Self {
        Self::new()
    }
}

impl Inspector for PiiInspector {
    fn detect(&self, text: &str) -> Result<Vec<Entity>, String> {
        // The detector is total; a panic inside it is caught by
        // `guarded_detect`, and the request is refused.
        Ok(self.detector.detect(text, None))
    }
    fn special_category(&self, text: &str) -> bool {
        rempart_pii::has_special_category_cue(text)
    }
}
