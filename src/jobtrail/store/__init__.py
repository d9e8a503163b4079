"""Storage: SQLAlchemy Core tables, queries and migrations, on SQLite and PostgreSQL."""
