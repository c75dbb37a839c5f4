//! `feature-report`: prints the features of every copy of `feat` in the build.

mod build_view {
    include!(concat!(env!("OUT_DIR"), "/build_view.rs"));
}

fn main() {
    println!("normal dep:      {}", feat::report());
    println!("build-dep:       {}", build_view::BUILD_VIEW);
    println!("proc-macro dep:  {}", pm::feat_report!());
}
