//! The pages' stylesheet and script as `build.rs` bundled them: comments and blank space gone,
//! under content-hashed names that pages link to and browsers may keep for a year.

include!(concat!(env!("OUT_DIR"), "/assets.rs"));
