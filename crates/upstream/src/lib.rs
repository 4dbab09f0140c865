//! kunci's outbound traffic: delivery of notifications (webhook, e-mail) and, with the API-key
//! pool, the transport to third-party APIs.

pub mod circuit;
pub mod gateway;
pub mod generic;
pub mod google;
pub mod notify;
pub mod proxy;
