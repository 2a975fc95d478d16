use super::*;

#[test]
fn the_form_types_lower_case_after_the_first_capital_and_trims_fields() {
    let mut d = Desk::default();
    d.new_form();
    for c in "KON TUM".chars() {
        d.type_char(c);
    }
    assert_eq!(d.form.title, "Kon tum");
    d.choose(Field::Creator);
    assert!(d.shift, "an empty field starts with a capital");
    for c in " A ".chars() {
        d.type_char(c);
    }
    d.choose(Field::Language);
    assert!(!d.shift, "language codes are lower case");
    let dc = d.form.dublin_core().expect("titled");
    assert_eq!(dc.creator.as_deref(), Some("a"));
    assert_eq!(dc.language.as_deref(), Some("vie"));
    assert_eq!(dc.subject, None);
    d.choose(Field::Title);
    for _ in 0..7 {
        d.back();
    }
    assert_eq!(d.form.dublin_core(), None);
}

#[test]
fn nothing_is_sent_without_an_open_job() {
    let mut d = Desk::default();
    let mut out = Out::new();
    d.scan("s", true, &mut out);
    d.close("s", false, &mut out);
    assert!(out.is_empty());
}
