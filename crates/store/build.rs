//! The migrations are embedded by `sqlx::migrate!`, which cannot tell Cargo to watch their
//! folder: without this, a new migration file would be missing from an incremental build.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
