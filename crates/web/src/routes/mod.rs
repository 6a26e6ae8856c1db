pub mod config;
pub mod files;
pub mod flow;
pub mod people;
pub mod tickets;
