//! Compiles the Slint UI and bundles the gettext catalogues into the binary.
fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations(concat!(env!("CARGO_MANIFEST_DIR"), "/lang"))
        // The catalogues carry no msgctxt: one string, one translation, wherever it appears.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None);
    slint_build::compile_with_config("ui/app.slint", config)
        .expect("the kiosk's Slint UI compiles");
    println!("cargo:rerun-if-changed=lang");
}
