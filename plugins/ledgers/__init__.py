"""Ledger backends: SQL (SQLite, PostgreSQL) and in memory."""
