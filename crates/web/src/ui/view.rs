//! View models shared by the pages: a form field of any kind (rendered by
//! `templates/field.html`), options for pickers (trees flattened with their depth, which the
//! script turns into cascading selects), and custom fields to and from forms.

use std::collections::BTreeMap;

use gongdan_domain::category::Category;
use gongdan_domain::fields::{CustomFieldDef, FieldKind, FieldOption};
use serde_json::Value;

use super::ctx::Ctx;
use super::form::{FormErrors, UiForm};

#[derive(Debug, Clone, Default)]
pub struct Opt {
    pub value: String,
    pub label: String,
    /// 0 for a root; the cascade script builds one select per level from this.
    pub depth: usize,
    /// The parent option's value, for trees.
    pub parent: String,
}

impl Opt {
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Self {
        Opt { value: value.into(), label: label.into(), depth: 0, parent: String::new() }
    }

    /// The label indented by depth, for the plain select without script.
    pub fn indented(&self) -> String {
        format!("{}{}", "\u{a0}\u{a0}".repeat(self.depth), self.label)
    }
}

/// One input of a form, whatever its kind.
#[derive(Debug, Clone, Default)]
pub struct FieldView {
    pub name: String,
    pub label: String,
    /// text, email, password, textarea, number, decimal, date, datetime, checkbox, select,
    /// multi, tree (a select of a flattened tree), hidden; secret (a password the desk keeps for
    /// others: never filled in by the browser), static (shown, not sent), heading (a section)
    pub kind: &'static str,
    pub value: String,
    pub values: Vec<String>,
    pub options: Vec<Opt>,
    pub required: bool,
    pub error: Option<String>,
    pub hint: String,
    /// Offer an empty choice in selects.
    pub blank: bool,
}

impl FieldView {
    pub fn new(name: &str, label: String, kind: &'static str, value: impl Into<String>) -> Self {
        FieldView { name: name.to_owned(), label, kind, value: value.into(), ..Default::default() }
    }

    pub fn options(mut self, options: Vec<Opt>, blank: bool) -> Self {
        self.options = options;
        self.blank = blank;
        self
    }

    pub fn required(mut self, r: bool) -> Self {
        self.required = r;
        self
    }

    pub fn hint(mut self, h: String) -> Self {
        self.hint = h;
        self
    }

    pub fn values(mut self, v: Vec<String>) -> Self {
        self.values = v;
        self
    }

    /// The HTML id of the input.
    pub fn id(&self) -> String {
        format!("f-{}", self.name.replace(|c: char| !c.is_ascii_alphanumeric(), "-"))
    }

    pub fn selected(&self, v: &str) -> bool {
        if self.kind == "multi" { self.values.iter().any(|x| x == v) } else { self.value == v }
    }

    /// The `type` of an `<input>` for the simple kinds.
    pub fn input_type(&self) -> &'static str {
        match self.kind {
            "email" => "email",
            "password" | "new-password" | "secret" => "password",
            "number" => "number",
            "date" => "date",
            "datetime" => "datetime-local",
            "hidden" => "hidden",
            _ => "text",
        }
    }

    pub fn is_checked(&self) -> bool {
        self.value == "true" || self.value == "on"
    }

    /// Puts the error for this field, if any, beside it.
    pub fn with_errors(mut self, ctx: &Ctx, errors: &FormErrors) -> Self {
        self.error = errors.for_field(ctx, &self.name);
        self
    }
}

/// Applies errors to a list of fields.
pub fn with_errors(fields: Vec<FieldView>, ctx: &Ctx, errors: &FormErrors) -> Vec<FieldView> {
    fields.into_iter().map(|f| f.with_errors(ctx, errors)).collect()
}

/// The category tree, depth-first, as options (active categories, plus `keep` if inactive).
pub fn category_options(ctx: &Ctx, cats: &[Category], keep: Option<i64>) -> Vec<Opt> {
    fn walk(ctx: &Ctx, cats: &[Category], parent: Option<i64>, depth: usize, keep: &[i64], out: &mut Vec<Opt>) {
        let mut level: Vec<&Category> = cats
            .iter()
            .filter(|c| c.parent_id.map(|p| p.0) == parent && (c.active || keep.contains(&c.id.0)))
            .collect();
        level.sort_by_key(|c| (c.position, c.id));
        for c in level {
            out.push(Opt {
                value: c.id.0.to_string(),
                label: ctx.pick(&c.name_zh, &c.name_en).to_owned(),
                depth,
                parent: parent.map(|p| p.to_string()).unwrap_or_default(),
            });
            if depth < 16 {
                walk(ctx, cats, Some(c.id.0), depth + 1, keep, out);
            }
        }
    }
    // The kept category and its ancestors show even when inactive, so the picker holds it.
    let kept: Vec<i64> = keep
        .map(|k| {
            gongdan_domain::category::path(cats, gongdan_domain::ids::CategoryId(k)).iter().map(|c| c.id.0).collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    walk(ctx, cats, None, 0, &kept, &mut out);
    out
}

/// Options of a cascading field, each valued by its path as JSON (`["hw","printer"]`).
fn cascade_options(ctx: &Ctx, opts: &[FieldOption], prefix: &[String], out: &mut Vec<Opt>) {
    for o in opts {
        let mut path = prefix.to_vec();
        path.push(o.value.clone());
        out.push(Opt {
            value: Value::from(path.clone()).to_string(),
            label: option_label(ctx, o),
            depth: prefix.len(),
            parent: if prefix.is_empty() { String::new() } else { Value::from(prefix.to_vec()).to_string() },
        });
        if path.len() < 8 {
            cascade_options(ctx, &o.children, &path, out);
        }
    }
}

fn option_label(ctx: &Ctx, o: &FieldOption) -> String {
    let l = ctx.pick(&o.label_zh, &o.label_en);
    if l.is_empty() { o.value.clone() } else { l.to_owned() }
}

/// A custom field as an input named `custom_fields.<key>`, showing `value`.
pub fn custom_field(ctx: &Ctx, def: &CustomFieldDef, value: Option<&Value>, required: bool) -> FieldView {
    let name = format!("custom_fields.{}", def.key);
    let label = ctx.pick(&def.label_zh, &def.label_en).to_owned();
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v @ Value::Array(_)) if def.kind == FieldKind::Cascade => v.to_string(),
        Some(v) => v.to_string(),
    };
    let flat = || def.options.iter().map(|o| Opt::new(o.value.clone(), option_label(ctx, o))).collect::<Vec<_>>();
    let f = match def.kind {
        FieldKind::Text => FieldView::new(&name, label, "text", text),
        FieldKind::Regex => FieldView::new(&name, label, "text", text)
            .hint(def.pattern.clone().map(|p| ctx.t1("field-pattern-hint", "pattern", p)).unwrap_or_default()),
        FieldKind::Textarea => FieldView::new(&name, label, "textarea", text),
        FieldKind::Integer => FieldView::new(&name, label, "number", text),
        FieldKind::Decimal => FieldView::new(&name, label, "decimal", text),
        FieldKind::Date => FieldView::new(&name, label, "date", text),
        FieldKind::Checkbox => FieldView::new(&name, label, "checkbox", text),
        FieldKind::Dropdown => FieldView::new(&name, label, "select", text).options(flat(), true),
        FieldKind::MultiSelect => {
            let chosen = match value {
                Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                _ => vec![],
            };
            FieldView::new(&name, label, "multi", "").options(flat(), false).values(chosen)
        }
        FieldKind::Cascade => {
            let mut opts = Vec::new();
            cascade_options(ctx, &def.options, &[], &mut opts);
            FieldView::new(&name, label, "tree", text).options(opts, true)
        }
    };
    f.required(required)
}

/// Reads a custom field's value back from a form as the API would receive it: blank clears
/// (`null`), numbers and dates go as text (the domain checks them), lists as arrays.
pub fn custom_value(def: &CustomFieldDef, form: &UiForm) -> Value {
    let name = format!("custom_fields.{}", def.key);
    match def.kind {
        FieldKind::Checkbox => Value::Bool(form.checked(&name)),
        FieldKind::MultiSelect => {
            let items: Vec<String> = form.all(&name).into_iter().filter(|v| !v.is_empty()).map(str::to_owned).collect();
            if items.is_empty() { Value::Null } else { Value::from(items) }
        }
        FieldKind::Cascade => match form.text(&name) {
            None => Value::Null,
            // A path as the picker sends it; anything else is passed on for the domain to refuse.
            Some(t) => serde_json::from_str::<Value>(&t).unwrap_or(Value::String(t)),
        },
        _ => form.text(&name).map(Value::String).unwrap_or(Value::Null),
    }
}

/// The custom-field inputs of a form (the category's form, or every active ticket field when
/// staff edit a ticket without one), filled from `values`.
pub fn ticket_fields(
    ctx: &Ctx,
    category: Option<i64>,
    values: &BTreeMap<String, Value>,
    all_when_no_form: bool,
) -> Vec<FieldView> {
    let cfg = &ctx.cfg;
    let form = cfg.form_for(category.map(gongdan_domain::ids::CategoryId));
    let defs: Vec<(&CustomFieldDef, bool)> = match form {
        Some(form) => form
            .fields
            .iter()
            .filter_map(|ff| cfg.fields.iter().find(|d| d.id == ff.field_id && d.active).map(|d| (d, ff.required)))
            .collect(),
        None if all_when_no_form => {
            let mut defs: Vec<&CustomFieldDef> = cfg
                .fields
                .iter()
                .filter(|d| d.active && d.scope == gongdan_domain::fields::FieldScope::Ticket)
                .collect();
            defs.sort_by_key(|d| (d.position, d.id));
            defs.into_iter().map(|d| (d, false)).collect()
        }
        None => vec![],
    };
    defs.into_iter().map(|(d, req)| custom_field(ctx, d, values.get(&d.key), req)).collect()
}

/// Reads the custom fields a form showed; only those that differ from `current` when given.
pub fn read_ticket_fields(
    ctx: &Ctx,
    category: Option<i64>,
    form: &UiForm,
    current: Option<&BTreeMap<String, Value>>,
) -> BTreeMap<String, Value> {
    let cfg = &ctx.cfg;
    let mut out = BTreeMap::new();
    for f in ticket_fields(ctx, category, &BTreeMap::new(), true) {
        let Some(key) = f.name.strip_prefix("custom_fields.") else { continue };
        let Some(def) = cfg.fields.iter().find(|d| d.key == key) else { continue };
        // A field the form did not show is left alone (a checkbox shows as absent when off,
        // so the form marks what it rendered).
        if !form.all("_fields").contains(&f.name.as_str()) {
            continue;
        }
        let v = custom_value(def, form);
        let unchanged = match current {
            Some(cur) => {
                cur.get(key).cloned().unwrap_or(Value::Null) == v || (v == Value::Bool(false) && !cur.contains_key(key))
            }
            None => v.is_null(),
        };
        if !unchanged {
            out.insert(key.to_owned(), v);
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_encoded() {
        assert_eq!(urlencode("/a?b=c d"), "/a%3Fb%3Dc%20d");
    }
}
