//! results.json's values are serde_json's (`json!` builds them); [`Render`] writes them
//! indented, fields in the order they were written (serde_json's `preserve_order`).

pub use serde_json::{json, Value as Json};

/// Pretty JSON text, two-space indent, with a final newline.
pub trait Render {
    fn render(&self) -> String;
}

impl Render for Json {
    fn render(&self) -> String {
        let mut value = self.clone();
        whole_numbers_as_integers(&mut value);
        // Serialising a Value cannot fail: its keys are strings and non-finite floats are
        // already null.
        let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
        out.push('\n');
        out
    }
}

/// Rates and means that happen to be whole print as `8000`, not `8000.0`, as results.json
/// always had them.
fn whole_numbers_as_integers(value: &mut Json) {
    match value {
        Json::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0) {
                if f.abs() < 9.0e15 {
                    *value = Json::from(f as i64);
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Json::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_in_insertion_order() {
        let j = json!({
            "b": 1u64,
            "a": 1.5,
            "w": 8000.0,
            "c": "x\"y\n",
            "d": [Json::Null, true],
            "e": f64::NAN,
            "f": {},
        });
        assert_eq!(
            j.render(),
            "{\n  \"b\": 1,\n  \"a\": 1.5,\n  \"w\": 8000,\n  \"c\": \"x\\\"y\\n\",\n  \"d\": [\n    null,\n    true\n  ],\n  \"e\": null,\n  \"f\": {}\n}\n"
        );
    }
}
