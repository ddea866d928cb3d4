//! Header names Rempart reads and writes, in one place.

/// Request id (UUIDv7), on every response.
pub const X_REMPART_REQUEST_ID: &str = "x-rempart-request-id";
/// The deployment that served the request.
pub const X_REMPART_DEPLOYMENT: &str = "x-rempart-deployment";
/// The request's located region (country code, or `unknown`).
pub const X_REMPART_REGION: &str = "x-rempart-region";
/// The audit record's id.
pub const X_REMPART_AUDIT_ID: &str = "x-rempart-audit-id";
/// Options dropped or changed for the deployment.
pub const X_REMPART_WARNING: &str = "x-rempart-warning";
/// PII summary: counts by type, never values.
pub const X_REMPART_PII: &str = "x-rempart-pii";
/// The routing rule that selected the candidates.
pub const X_REMPART_ROUTE: &str = "x-rempart-route";
