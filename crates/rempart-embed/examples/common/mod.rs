//! Shared by the examples: BEIR files (read at run time, never copied).
// Each example uses a part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

/// A BEIR document: `_id`, `title`, `text`.
#[derive(serde::Deserialize)]
pub struct Doc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub text: String,
}

impl Doc {
    /// Title and text as one passage (the MTEB/BEIR convention).
    pub fn passage(&self) -> String {
        if self.title.is_empty() {
            self.text.clone()
        } else {
            format!("{} {}", self.title, self.text)
        }
    }
}

pub fn read_jsonl(path: &Path) -> Vec<Doc> {
    let s = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

/// `qrels/test.tsv`: query id → (doc id → relevance).
pub fn read_qrels(path: &Path) -> HashMap<String, HashMap<String, u32>> {
    let s = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut q: HashMap<String, HashMap<String, u32>> = HashMap::new();
    for line in s.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        assert!(f.len() == 3, "{}: bad line {line:?}", path.display());
        let rel: u32 = f[2].trim().parse().expect("relevance");
        if rel > 0 {
            q.entry(f[0].to_string())
                .or_default()
                .insert(f[1].to_string(), rel);
        }
    }
    q
}
