//! One module per port; each ends with `backends!(…)` listing its tests.

mod migrations;
