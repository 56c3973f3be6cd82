//! Records the git commit the examples are built from, for `target_info`.
//! Outside a git checkout (a crate tarball) nothing is set and the runtime
//! `OBSERVE_GIT_COMMIT` still applies.

fn main() {
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok());
    if let Some(commit) = commit {
        println!("cargo:rustc-env=OBSERVE_BUILD_GIT_COMMIT={}", commit.trim());
    }
}
