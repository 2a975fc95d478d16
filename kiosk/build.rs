//! Compiles the Slint UI and bundles the gettext catalogues into the binary.
fn main() {
    // Read at run time, not with env!(): a build script compiled in one checkout may be
    // reused from a shared target directory by another checkout at a different path.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations(format!("{dir}/lang"))
        // The catalogues carry no msgctxt: one string, one translation, wherever it appears.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None);
    slint_build::compile_with_config("ui/app.slint", config)
        .expect("the kiosk's Slint UI compiles");
    println!("cargo:rerun-if-changed=lang");
}
