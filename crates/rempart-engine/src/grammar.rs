//! GBNF grammars that constrain generation to JSON, used to make a small
//! local model emit a well-formed tool call when the caller forces one
//! (`tool_choice: "required"` or a named function).
//!
//! The generic rules follow llama.cpp's `grammars/json.gbnf` (MIT).

use serde_json::Value;

/// Shared JSON rules (value, object, array, string, number, ws).
const JSON_RULES: &str = r#"value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [0-9]{0,15})? ws
integer ::= "-"? ([0-9] | [1-9] [0-9]{0,15}) ws
boolean ::= ("true" | "false") ws
ws ::= | " " | "\n" [ \t]{0,20}
"#;

/// Any JSON object.
pub fn json_object() -> String {
    format!("root ::= object\n{JSON_RULES}")
}

/// A JSON value following a subset of JSON Schema: `object` with
/// `properties` (every declared property is emitted, in declared order — a
/// grammar cannot cheaply express optional members in any order), `string`
/// (with `enum`), `number`, `integer`, `boolean`, `array` (`items`).
/// Anything else falls back to any JSON value.
pub fn from_json_schema(schema: &Value) -> String {
    let mut rules = Vec::new();
    let root = rule_for(schema, "root-obj", &mut rules);
    let mut out = format!("root ::= {root}\n");
    for r in rules {
        out.push_str(&r);
        out.push('\n');
    }
    out.push_str(JSON_RULES);
    out
}

fn literal(s: &str) -> String {
    // A GBNF string literal for a JSON string literal.
    let json = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let escaped = json.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

fn rule_for(schema: &Value, name: &str, rules: &mut Vec<String>) -> String {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let alts: Vec<String> = values
            .iter()
            .map(|v| {
                let json = serde_json::to_string(v).unwrap_or_default();
                format!("\"{}\"", json.replace('\\', "\\\\").replace('"', "\\\""))
            })
            .collect();
        if !alts.is_empty() {
            rules.push(format!("{name} ::= ({}) ws", alts.join(" | ")));
            return name.to_owned();
        }
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                return "object".into();
            };
            if props.is_empty() {
                return "object".into();
            }
            let mut parts = Vec::new();
            for (i, (key, sub)) in props.iter().enumerate() {
                let sub_name = format!("{name}-{i}");
                let r = rule_for(sub, &sub_name, rules);
                let sep = if i == 0 { "" } else { "\",\" ws " };
                parts.push(format!("{sep}{} \":\" ws {r}", literal(key)));
            }
            rules.push(format!(
                "{name} ::= \"{{\" ws {} \"}}\" ws",
                parts.join(" ")
            ));
            name.to_owned()
        }
        Some("array") => {
            let item = match schema.get("items") {
                Some(items) => rule_for(items, &format!("{name}-item"), rules),
                None => "value".into(),
            };
            rules.push(format!(
                "{name} ::= \"[\" ws ( {item} (\",\" ws {item})* )? \"]\" ws"
            ));
            name.to_owned()
        }
        Some("string") => "string".into(),
        Some("number") => "number".into(),
        Some("integer") => "integer".into(),
        Some("boolean") => "boolean".into(),
        _ => "value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_grammar_names_every_property_in_order() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}}
            },
            "required": ["city"]
        });
        let g = from_json_schema(&schema);
        assert!(g.starts_with("root ::= root-obj\n"), "{g}");
        let city = g.find(r#""\"city\"""#).unwrap();
        let unit = g.find(r#""\"unit\"""#).unwrap();
        assert!(city < unit, "{g}");
        assert!(
            g.contains(r#"root-obj-1 ::= ("\"celsius\"" | "\"fahrenheit\"") ws"#),
            "{g}"
        );
        assert!(g.contains("root-obj-3 ::= \"[\" ws ( string"), "{g}");
        assert_eq!(
            from_json_schema(&serde_json::json!({})).lines().next(),
            Some("root ::= value")
        );
    }
}
