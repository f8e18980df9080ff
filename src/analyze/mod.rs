//! `rdptap analyze`: the composition root that runs captured traffic through the same
//! trackers the live proxy uses.

pub mod classify;
