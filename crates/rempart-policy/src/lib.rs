//! Jurisdictions, deployment facts, tenant policy and the routing decision (pure, no I/O).
