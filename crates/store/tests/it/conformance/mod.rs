//! One module per port; each ends with `backends!(…)` listing its tests.

mod accounts;
mod apikeys;
mod audit;
mod circuit;
mod clients;
mod dump;
mod episodes;
mod lockout;
mod migrations;
mod rates;
mod refresh;
mod sessions;
mod signing_keys;
mod usage;
