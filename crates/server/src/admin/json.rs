//! JSON text as ZooKeeper's AdminServer writes it (Jackson's default pretty printer): objects
//! one field a line, `"key" : value`, indented two spaces per object level; arrays on one
//! line, `[ a, b ]`; empty ones `{ }` and `[ ]`. Clients parse it as any JSON; matching the
//! layout keeps scripts that grep it working.

use serde_json::Value;

/// `value` in Jackson's pretty layout.
pub fn to_jackson_pretty(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{ }"),
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                indent(out, depth + 1);
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(" : ");
                write_value(out, v, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push('}');
        }
        Value::Array(items) if items.is_empty() => out.push_str("[ ]"),
        Value::Array(items) => {
            out.push_str("[ ");
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, v, depth);
            }
            out.push_str(" ]");
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

#[cfg(test)]
mod tests {
    use super::to_jackson_pretty;
    use serde_json::json;

    #[test]
    fn layout_is_jacksons() {
        // As ZooKeeper 3.8's /commands/connections printed it (fields cut down).
        let v = json!({
            "connections": [{"remote_socket_address": "127.0.0.1:34290", "interest_ops": 1}],
            "secure_connections": [],
            "digests": [1, 2],
            "empty": {},
            "avg": 0.0,
            "command": "connections",
            "error": null
        });
        let want = "{\n  \"connections\" : [ {\n    \"remote_socket_address\" : \"127.0.0.1:34290\",\n    \"interest_ops\" : 1\n  } ],\n  \"secure_connections\" : [ ],\n  \"digests\" : [ 1, 2 ],\n  \"empty\" : { },\n  \"avg\" : 0.0,\n  \"command\" : \"connections\",\n  \"error\" : null\n}";
        assert_eq!(to_jackson_pretty(&v), want);
        let parsed: serde_json::Value =
            serde_json::from_str(&to_jackson_pretty(&v)).expect("valid JSON");
        assert_eq!(parsed, v);
    }
}
