//! Storage stories, run on SQLite and (when configured) PostgreSQL.

mod stories;
