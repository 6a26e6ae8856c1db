use serde_json::json;

use super::*;

fn def(kind: FieldKind) -> CustomFieldDef {
    CustomFieldDef {
        id: FieldId(1),
        scope: FieldScope::Ticket,
        key: "f".into(),
        kind,
        label_zh: "字段".into(),
        label_en: "Field".into(),
        options: vec![],
        pattern: None,
        active: true,
        position: 0,
    }
}

fn opt(value: &str, children: Vec<FieldOption>) -> FieldOption {
    FieldOption { value: value.into(), label_zh: String::new(), label_en: String::new(), children }
}

fn code(r: Result<Value, DomainError>) -> Result<Value, &'static str> {
    r.map_err(|e| e.code())
}

#[test]
fn scalar_kinds() {
    assert_eq!(code(def(FieldKind::Text).check_value(&json!("你好"))), Ok(json!("你好")));
    assert_eq!(code(def(FieldKind::Text).check_value(&json!(3))), Err("invalid_value"));
    assert_eq!(code(def(FieldKind::Text).check_value(&json!("x".repeat(TEXT_MAX + 1)))), Err("too_long"));
    assert_eq!(code(def(FieldKind::Integer).check_value(&json!(42))), Ok(json!(42)));
    assert_eq!(code(def(FieldKind::Integer).check_value(&json!("42"))), Ok(json!(42)));
    assert_eq!(code(def(FieldKind::Integer).check_value(&json!(4.5))), Err("invalid_value"));
    assert_eq!(code(def(FieldKind::Decimal).check_value(&json!("12.50"))), Ok(json!("12.50")));
    assert_eq!(code(def(FieldKind::Decimal).check_value(&json!(0.1))), Ok(json!("0.1")));
    assert_eq!(code(def(FieldKind::Decimal).check_value(&json!("1e9"))), Err("invalid_value"));
    assert_eq!(code(def(FieldKind::Date).check_value(&json!("2026-02-28"))), Ok(json!("2026-02-28")));
    assert_eq!(code(def(FieldKind::Date).check_value(&json!("2026-02-30"))), Err("invalid_value"));
    assert_eq!(code(def(FieldKind::Checkbox).check_value(&json!(true))), Ok(json!(true)));
    assert_eq!(code(def(FieldKind::Checkbox).check_value(&json!("yes"))), Err("invalid_value"));
    assert_eq!(code(def(FieldKind::Checkbox).check_value(&Value::Null)), Ok(Value::Null));
}

#[test]
fn choice_kinds() {
    let mut d = def(FieldKind::Dropdown);
    d.options = vec![opt("a", vec![]), opt("b", vec![])];
    assert_eq!(code(d.check_value(&json!("a"))), Ok(json!("a")));
    assert_eq!(code(d.check_value(&json!("z"))), Err("unknown_option"));
    d.kind = FieldKind::MultiSelect;
    assert_eq!(code(d.check_value(&json!(["b", "a", "b"]))), Ok(json!(["b", "a"])));
    assert_eq!(code(d.check_value(&json!(["a", "z"]))), Err("unknown_option"));
}

#[test]
fn cascade_walks_the_option_tree() {
    let mut d = def(FieldKind::Cascade);
    d.options = vec![opt("hw", vec![opt("printer", vec![opt("laser", vec![])])]), opt("sw", vec![])];
    assert!(d.validate().is_ok());
    assert_eq!(code(d.check_value(&json!(["hw", "printer", "laser"]))), Ok(json!(["hw", "printer", "laser"])));
    assert_eq!(code(d.check_value(&json!(["hw"]))), Ok(json!(["hw"])));
    assert_eq!(code(d.check_value(&json!(["sw", "printer"]))), Err("unknown_option"));
    assert_eq!(code(d.check_value(&json!([]))), Err("invalid_value"));
}

#[test]
fn regex_matches_the_whole_value() {
    let mut d = def(FieldKind::Regex);
    d.pattern = Some("[A-Z]-\\d{4}".into());
    assert!(d.validate().is_ok());
    assert_eq!(code(d.check_value(&json!("A-1001"))), Ok(json!("A-1001")));
    assert_eq!(code(d.check_value(&json!("xA-1001"))), Err("pattern_mismatch"));
    d.pattern = Some("(".into());
    assert_eq!(d.validate().map_err(|e| e.code()), Err("invalid_pattern"));
}

#[test]
fn definitions_are_checked() {
    let mut d = def(FieldKind::Dropdown);
    assert_eq!(d.validate().map_err(|e| e.code()), Err("required"));
    d.options = vec![opt("a", vec![]), opt("a", vec![])];
    assert_eq!(d.validate().map_err(|e| e.code()), Err("duplicate"));
    d.options = vec![opt("a", vec![opt("b", vec![])])];
    assert_eq!(d.validate().map_err(|e| e.code()), Err("invalid_value"), "only cascades nest");
    d.key = "Bad Key".into();
    assert_eq!(d.validate().map_err(|e| e.code()), Err("invalid_key"));
}

#[test]
fn values_and_required_fields_of_a_form() {
    let mut order = def(FieldKind::Text);
    order.key = "order_no".into();
    let mut inactive = def(FieldKind::Text);
    inactive.id = FieldId(2);
    inactive.key = "old".into();
    inactive.active = false;
    let defs = vec![order, inactive];

    let mut vals = BTreeMap::new();
    vals.insert("order_no".to_owned(), json!("A-1"));
    assert!(check_values(&defs, FieldScope::Ticket, &vals).is_ok());
    assert!(check_values(&defs, FieldScope::User, &vals).is_err(), "scope matters");
    vals.insert("old".to_owned(), json!("x"));
    let err = check_values(&defs, FieldScope::Ticket, &vals).err();
    assert_eq!(err.as_ref().and_then(|e| e.field()), Some("custom_fields.old"));

    let form =
        Form { id: FormId(1), name: "f".into(), fields: vec![FormField { field_id: FieldId(1), required: true }] };
    let mut merged = BTreeMap::new();
    assert_eq!(check_required(&form, &defs, &merged).map_err(|e| e.code()), Err("required"));
    merged.insert("order_no".to_owned(), json!("  "));
    assert!(check_required(&form, &defs, &merged).is_err(), "blank is missing");
    merged.insert("order_no".to_owned(), json!("A-1"));
    assert!(check_required(&form, &defs, &merged).is_ok());
}
