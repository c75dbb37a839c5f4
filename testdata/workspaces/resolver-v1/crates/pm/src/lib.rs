//! `pm`: a proc-macro that exposes the features of its own copy of `feat`.

use proc_macro::{Literal, TokenStream, TokenTree};

/// `feat_report!()` expands to a string literal: `feat::report()` as seen by
/// the proc-macro (host side).
#[proc_macro]
pub fn feat_report(_input: TokenStream) -> TokenStream {
    TokenStream::from(TokenTree::Literal(Literal::string(&feat::report())))
}
