//! `plugin`: a `cdylib` + `rlib` library in edition 2024.

/// Value exported with a C ABI from the cdylib.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn plugin_value() -> u32 {
    100 + shared::WEIGHT
}

/// Name of the plugin, including the features of `shared` it sees.
pub fn plugin_name() -> String {
    format!("plugin(shared={})", shared::features())
}

#[cfg(test)]
mod tests {
    #[test]
    fn value() {
        assert!(super::plugin_value() >= 100);
        assert!(super::plugin_name().starts_with("plugin("));
    }
}
