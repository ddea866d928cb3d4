//! Hybrid routing: an alias picks its candidate list by simple, explainable
//! rules (prompt size, a `task` label, images, tools), first match wins.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::decide::Strategy;
use crate::facts::DeploymentId;

/// What routing rules can look at. No content: sizes and labels only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteInput<'a> {
    /// Estimated prompt tokens.
    pub prompt_tokens: u32,
    /// The caller's `task` label (request metadata), if any.
    pub task: Option<&'a str>,
    /// Whether the request has image parts.
    pub has_images: bool,
    /// Whether the request offers tools.
    pub has_tools: bool,
}

/// A rule's condition; every field set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Prompt has at most this many tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_prompt_tokens: Option<u32>,
    /// Prompt has at least this many tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_prompt_tokens: Option<u32>,
    /// The `task` label is one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Vec<String>>,
    /// The request has (or has not) image parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_images: Option<bool>,
    /// The request has (or has not) tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_tools: Option<bool>,
}

impl Condition {
    /// Whether the input satisfies every set field.
    pub fn matches(&self, input: &RouteInput<'_>) -> bool {
        self.max_prompt_tokens
            .is_none_or(|m| input.prompt_tokens <= m)
            && self
                .min_prompt_tokens
                .is_none_or(|m| input.prompt_tokens >= m)
            && self
                .task
                .as_ref()
                .is_none_or(|ts| input.task.is_some_and(|t| ts.iter().any(|x| x == t)))
            && self.has_images.is_none_or(|b| input.has_images == b)
            && self.has_tools.is_none_or(|b| input.has_tools == b)
    }

    /// Whether no field is set (matches everything).
    pub fn is_empty(&self) -> bool {
        *self == Condition::default()
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(m) = self.max_prompt_tokens {
            parts.push(format!("prompt_tokens <= {m}"));
        }
        if let Some(m) = self.min_prompt_tokens {
            parts.push(format!("prompt_tokens >= {m}"));
        }
        if let Some(ts) = &self.task {
            parts.push(format!("task in [{}]", ts.join(", ")));
        }
        if let Some(b) = self.has_images {
            parts.push(format!("has_images = {b}"));
        }
        if let Some(b) = self.has_tools {
            parts.push(format!("has_tools = {b}"));
        }
        if parts.is_empty() {
            f.write_str("always")
        } else {
            f.write_str(&parts.join(" and "))
        }
    }
}

/// A routing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// When it applies.
    pub when: Condition,
    /// The candidates it selects, in priority order.
    pub candidates: Vec<DeploymentId>,
}

/// A model alias: rules, then the default candidates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Rules, first match wins.
    pub rules: Vec<Rule>,
    /// Candidates when no rule matches, in priority order.
    pub candidates: Vec<DeploymentId>,
    /// How admitted candidates are ordered.
    pub strategy: Strategy,
}

/// The candidates a route selected, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection<'a> {
    /// `rule N (condition)` or `default`.
    pub label: String,
    /// The selected candidates.
    pub candidates: &'a [DeploymentId],
}

impl Route {
    /// Pick the candidate list for a request.
    pub fn select(&self, input: &RouteInput<'_>) -> Selection<'_> {
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.when.matches(input) {
                return Selection {
                    label: format!("rule {} ({})", i + 1, rule.when),
                    candidates: &rule.candidates,
                };
            }
        }
        Selection {
            label: "default".to_owned(),
            candidates: &self.candidates,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins_then_default() {
        let route = Route {
            rules: vec![
                Rule {
                    when: Condition {
                        task: Some(vec!["summarise".into()]),
                        ..Default::default()
                    },
                    candidates: vec!["small".into()],
                },
                Rule {
                    when: Condition {
                        max_prompt_tokens: Some(1000),
                        ..Default::default()
                    },
                    candidates: vec!["small".into(), "large".into()],
                },
            ],
            candidates: vec!["large".into()],
            strategy: Strategy::Priority,
        };
        let s = route.select(&RouteInput {
            prompt_tokens: 5000,
            task: Some("summarise"),
            ..Default::default()
        });
        assert_eq!(s.label, "rule 1 (task in [summarise])");
        let s = route.select(&RouteInput {
            prompt_tokens: 800,
            ..Default::default()
        });
        assert_eq!(s.candidates.len(), 2);
        let s = route.select(&RouteInput {
            prompt_tokens: 5000,
            ..Default::default()
        });
        assert_eq!(s.label, "default");
        assert_eq!(s.candidates, &[DeploymentId::from("large")]);
    }
}
