//! Storage stories, run on SQLite and (when configured) PostgreSQL.

mod stock_properties;
mod stories;
