pub mod config;
pub mod files;
pub mod people;
pub mod tickets;
