//! `big-macros`: `#[derive(FieldNames)]` generating kebab-case field names.

use heck::ToKebabCase;
use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Fields};

/// Adds `fn field_names() -> &'static [&'static str]` (kebab-case) and
/// `fn type_name_kebab() -> &'static str`.
#[proc_macro_derive(FieldNames)]
pub fn derive_field_names(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let name = &input.ident;
    let names: Vec<String> = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => f
                .named
                .iter()
                .filter_map(|f| f.ident.as_ref())
                .map(|i| i.to_string().to_kebab_case())
                .collect(),
            _ => Vec::new(),
        },
        _ => {
            return syn::Error::new_spanned(name, "FieldNames only supports structs")
                .to_compile_error()
                .into()
        }
    };
    let kebab = name.to_string().to_kebab_case();
    quote! {
        impl #name {
            /// Kebab-case field names (generated).
            pub fn field_names() -> &'static [&'static str] {
                &[#(#names),*]
            }
            /// Kebab-case type name (generated).
            pub fn type_name_kebab() -> &'static str {
                #kebab
            }
        }
    }
    .into()
}
