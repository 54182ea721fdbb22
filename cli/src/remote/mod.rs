//! A client of the Soberana API: the connection (server, TLS, token), the commands, and how
//! their answers print.

pub mod commands;
pub mod connection;
pub mod exchanges;
pub mod output;
pub mod token;
pub mod what_if;
