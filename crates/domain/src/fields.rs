//! Custom fields and forms: definitions, value validation, and the per-category form that
//! says which fields a ticket shows and which it requires.

use crate::Code;
use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DomainError;
use crate::ids::{FieldId, FormId};
use crate::str_enum;

str_enum!(
    /// What kind of record a field belongs to.
    FieldScope { Ticket = "ticket", User = "user", Organization = "organization" }
);
str_enum!(
    FieldKind {
        Text = "text",
        Textarea = "textarea",
        Integer = "integer",
        Decimal = "decimal",
        Date = "date",
        Checkbox = "checkbox",
        Dropdown = "dropdown",
        MultiSelect = "multi_select",
        Regex = "regex",
        Cascade = "cascade",
    }
);

pub const TEXT_MAX: usize = 1_000;
pub const TEXTAREA_MAX: usize = 65_536;

/// A choice of a dropdown, multi-select or cascading field; only cascading options nest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldOption {
    pub value: String,
    #[serde(default)]
    pub label_zh: String,
    #[serde(default)]
    pub label_en: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub children: Vec<FieldOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomFieldDef {
    pub id: FieldId,
    pub scope: FieldScope,
    /// Stable key used in `custom_fields` objects.
    pub key: String,
    pub kind: FieldKind,
    pub label_zh: String,
    pub label_en: String,
    #[serde(default)]
    pub options: Vec<FieldOption>,
    /// For `regex` fields: the whole value must match.
    #[serde(default)]
    pub pattern: Option<String>,
    pub active: bool,
    pub position: i64,
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && key.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks an identifier-like key (`order_no`, `waiting_vendor`).
pub fn validate_key(key: &str, field: &str) -> Result<(), DomainError> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            Code::InvalidKey,
            "lower-case letters, digits and _, starting with a letter, at most 64",
        ))
    }
}

fn check_options(options: &[FieldOption], nested: bool, path: &str) -> Result<(), DomainError> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, o) in options.iter().enumerate() {
        let here = format!("{path}[{i}]");
        if o.value.trim().is_empty() {
            return Err(DomainError::required(format!("{here}.value")));
        }
        if !seen.insert(o.value.as_str()) {
            return Err(DomainError::invalid(
                format!("{here}.value"),
                Code::DuplicateValue,
                "option values must be unique",
            ));
        }
        if !o.children.is_empty() {
            if !nested {
                return Err(DomainError::invalid(
                    format!("{here}.children"),
                    Code::InvalidValue,
                    "only cascade fields nest options",
                ));
            }
            check_options(&o.children, true, &format!("{here}.children"))?;
        }
    }
    Ok(())
}

impl CustomFieldDef {
    /// Checks the definition itself before it is saved.
    pub fn validate(&self) -> Result<(), DomainError> {
        validate_key(&self.key, "key")?;
        if self.label_zh.trim().is_empty() && self.label_en.trim().is_empty() {
            return Err(DomainError::required("label_en"));
        }
        match self.kind {
            FieldKind::Dropdown | FieldKind::MultiSelect | FieldKind::Cascade => {
                if self.options.is_empty() {
                    return Err(DomainError::required("options"));
                }
                check_options(&self.options, self.kind == FieldKind::Cascade, "options")?;
            }
            FieldKind::Regex => {
                let pattern = self.pattern.as_deref().unwrap_or_default();
                if pattern.is_empty() {
                    return Err(DomainError::required("pattern"));
                }
                anchored(pattern).map_err(|e| DomainError::invalid("pattern", Code::InvalidPattern, e.to_string()))?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Validates one value and returns its canonical form. `Null` passes (it clears the value;
    /// whether that is allowed is the form's business).
    pub fn check_value(&self, value: &Value) -> Result<Value, DomainError> {
        let field = format!("custom_fields.{}", self.key);
        let bad = |msg: &str| DomainError::invalid(field.clone(), Code::InvalidValue, msg.to_owned());
        if value.is_null() {
            return Ok(Value::Null);
        }
        match self.kind {
            FieldKind::Text | FieldKind::Textarea => {
                let max = if self.kind == FieldKind::Text { TEXT_MAX } else { TEXTAREA_MAX };
                let s = value.as_str().ok_or_else(|| bad("expected a string"))?;
                if s.chars().count() > max {
                    return Err(DomainError::invalid(field, Code::TooLong, format!("at most {max} characters")));
                }
                Ok(Value::String(s.to_owned()))
            }
            FieldKind::Integer => match value {
                Value::Number(n) if n.is_i64() => Ok(value.clone()),
                Value::String(s) => s.trim().parse::<i64>().map(Value::from).map_err(|_| bad("expected an integer")),
                _ => Err(bad("expected an integer")),
            },
            FieldKind::Decimal => {
                // Kept as a string so 0.1 stays 0.1 through JSON and both databases.
                let text = match value {
                    Value::Number(n) => n.to_string(),
                    Value::String(s) => s.trim().to_owned(),
                    _ => return Err(bad("expected a decimal number")),
                };
                if is_decimal(&text) { Ok(Value::String(text)) } else { Err(bad("expected a decimal number")) }
            }
            FieldKind::Date => {
                let s = value.as_str().ok_or_else(|| bad("expected a date YYYY-MM-DD"))?;
                let d: jiff::civil::Date = s.parse().map_err(|_| bad("expected a date YYYY-MM-DD"))?;
                Ok(Value::String(d.to_string()))
            }
            FieldKind::Checkbox => value.as_bool().map(Value::Bool).ok_or_else(|| bad("expected true or false")),
            FieldKind::Dropdown => {
                let s = value.as_str().ok_or_else(|| bad("expected one of the options"))?;
                if self.options.iter().any(|o| o.value == s) {
                    Ok(Value::String(s.to_owned()))
                } else {
                    Err(DomainError::invalid(field, Code::UnknownOption, format!("`{s}` is not an option")))
                }
            }
            FieldKind::MultiSelect => {
                let items = value.as_array().ok_or_else(|| bad("expected a list of options"))?;
                let mut out: Vec<String> = Vec::new();
                for item in items {
                    let s = item.as_str().ok_or_else(|| bad("expected a list of options"))?;
                    if !self.options.iter().any(|o| o.value == s) {
                        return Err(DomainError::invalid(
                            field,
                            Code::UnknownOption,
                            format!("`{s}` is not an option"),
                        ));
                    }
                    if !out.iter().any(|o| o == s) {
                        out.push(s.to_owned());
                    }
                }
                Ok(Value::from(out))
            }
            FieldKind::Regex => {
                let s = value.as_str().ok_or_else(|| bad("expected a string"))?;
                let re = anchored(self.pattern.as_deref().unwrap_or_default())
                    .map_err(|_| bad("the field's pattern is broken"))?;
                if s.chars().count() <= TEXT_MAX && re.is_match(s) {
                    Ok(Value::String(s.to_owned()))
                } else {
                    Err(DomainError::invalid(field, Code::PatternMismatch, "does not match the required format"))
                }
            }
            FieldKind::Cascade => {
                // A path from the root: ["hardware", "printer", "laser"]; a prefix is allowed.
                let items = value.as_array().ok_or_else(|| bad("expected a path of options"))?;
                if items.is_empty() {
                    return Err(bad("expected a path of options"));
                }
                let mut level = &self.options;
                let mut out = Vec::new();
                for item in items {
                    let s = item.as_str().ok_or_else(|| bad("expected a path of options"))?;
                    let opt = level.iter().find(|o| o.value == s).ok_or_else(|| {
                        DomainError::invalid(field.clone(), Code::UnknownOption, format!("`{s}` is not an option here"))
                    })?;
                    out.push(s.to_owned());
                    level = &opt.children;
                }
                Ok(Value::from(out))
            }
        }
    }
}

fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$")).size_limit(1 << 20).build()
}

fn is_decimal(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.len() <= 20
        && frac.len() <= 10
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
}

/// Which fields a category's tickets show, in order, and which they require.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Form {
    pub id: FormId,
    pub name: String,
    pub fields: Vec<FormField>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormField {
    pub field_id: FieldId,
    #[serde(default)]
    pub required: bool,
}

/// Whether a stored value counts as no value (null, blank text, empty list).
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Validates a set of incoming values against the definitions of one scope and returns them
/// canonicalised. Unknown or inactive keys are rejected by name.
pub fn check_values(
    defs: &[CustomFieldDef],
    scope: FieldScope,
    values: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Value>, DomainError> {
    let mut out = BTreeMap::new();
    for (key, value) in values {
        let def = defs.iter().find(|d| d.key == *key && d.scope == scope && d.active).ok_or_else(|| {
            DomainError::invalid(
                format!("custom_fields.{key}"),
                Code::UnknownField,
                format!("no active {scope} field `{key}`"),
            )
        })?;
        out.insert(key.clone(), def.check_value(value)?);
    }
    Ok(out)
}

/// Checks that every field the form requires has a value in `merged` (the ticket's values after
/// the change).
pub fn check_required(
    form: &Form,
    defs: &[CustomFieldDef],
    merged: &BTreeMap<String, Value>,
) -> Result<(), DomainError> {
    for ff in form.fields.iter().filter(|f| f.required) {
        let Some(def) = defs.iter().find(|d| d.id == ff.field_id && d.active) else { continue };
        if merged.get(&def.key).is_none_or(is_empty) {
            return Err(DomainError::required(format!("custom_fields.{}", def.key)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
