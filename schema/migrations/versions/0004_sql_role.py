"""The ``atlas2d_sql`` role for ``atlas2d sql``, apart from the API's ``atlas2d_reader``.

Both only read (the same grants), but PostgreSQL lets a role cancel or terminate the
sessions of its own role: with one role for both, anyone with ``atlas2d sql`` could end the
HTTP API's sessions. The role's defaults also bound a session that is used without the
command line: read-only transactions, a 30 s statement timeout, and a check every second
that a client running a long statement is still there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:30:00
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SQL_ROLE = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'atlas2d_sql') THEN
    CREATE ROLE atlas2d_sql LOGIN;
  END IF;
END $$;
ALTER ROLE atlas2d_sql SET default_transaction_read_only = on;
ALTER ROLE atlas2d_sql SET statement_timeout = '30s';
ALTER ROLE atlas2d_sql SET client_connection_check_interval = '1s';
GRANT USAGE ON SCHEMA public TO atlas2d_sql;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO atlas2d_sql;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO atlas2d_sql;
"""


def upgrade() -> None:
    op.execute(SQL_ROLE)


def downgrade() -> None:
    op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM atlas2d_sql")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM atlas2d_sql")
    op.execute("REVOKE USAGE ON SCHEMA public FROM atlas2d_sql")
