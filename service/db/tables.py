"""SQL tables of the service (the ledger's own tables live in ``ledger.store``).

Money is stored as ``amount_minor BIGINT`` plus ``currency CHAR(3)``; ids are UUID strings.
Each migration in ``service/db/migrations/versions`` creates the tables as they stand here.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Ordering key: INTEGER PRIMARY KEY on SQLite (rowid alias), BIGINT identity elsewhere.
SEQ = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

parties = Table(
    "parties",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("kind", String(16), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("tax_code", String(16)),
    Column("vat_number", String(11)),
    Column("iban", String(34)),
    Column("municipality", String(100)),
    Column("province", String(2)),
    # Coordinates are not money: floats are the right type here.
    Column("latitude", Float),
    Column("longitude", Float),
    Column("households", Integer),
    Column("categories", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
    # person: ids of the GAS it belongs to (migration 0008)
    Column("member_of", JSON),
    # Contacts (migration 0014): e-mail and PEC as e-mail addresses, the phone in E.164.
    Column("email", String(254)),
    Column("phone", String(16)),
    Column("pec", String(254)),
    Column("address", String(200)),
    Column("postal_code", String(5)),
)

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("party_id", String(36), ForeignKey("parties.id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Bumped by every change that must end the user's sessions (password, role, party,
    # disabling): a token carries the generation it was issued under.
    Column("token_generation", Integer, nullable=False, server_default="0"),
    Column("disabled_at", DateTime(timezone=True)),
)

# Tokens ended by a logout, kept until they would have expired anyway.
revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False, index=True),
)

relationships = Table(
    "relationships",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("gas_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("producer_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("since", Date, nullable=False),
    Column("annual_purchases_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("households_buying", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
    # The GDXP file's creationDate that last set annual_purchases (migration 0022).
    Column("purchases_as_of", Date),
    UniqueConstraint("gas_id", "producer_id", name="uq_relationship_pair"),
)

# The products a GAS last imported for a producer from a GDXP file (migration 0022):
# a list of objects, prices and quantities as decimal strings (never floats).
gdxp_price_lists = Table(
    "gdxp_price_lists",
    metadata,
    Column("gas_id", String(36), ForeignKey("parties.id"), primary_key=True),
    Column("producer_id", String(36), ForeignKey("parties.id"), primary_key=True),
    Column("products", JSON, nullable=False),
    Column("creation_date", Date, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Client-chosen ids of creates and commands: a repeat answers as the first time.
idempotency = Table(
    "idempotency",
    metadata,
    Column("id", String(36), primary_key=True),
    # Method and path: two ids in a reversal's (migration 0015 widened it from 100).
    Column("operation", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("username", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# -- lending (migration 0004) -------------------------------------------------------------

pools = Table(
    "pools",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("lender_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("partner_id", String(36), ForeignKey("parties.id")),
    Column("max_loan_minor", BigInteger),
    Column("is_general", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
)

pool_deposits = Table(
    "pool_deposits",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("pool_id", String(36), ForeignKey("pools.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("date", Date, nullable=False),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
)

shares = Table(
    "shares",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("member_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("lender_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("pool_id", String(36), ForeignKey("pools.id"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("date", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
)

loan_categories = Table(
    "loan_categories",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("lender_id", String(36), ForeignKey("parties.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("max_principal_minor", BigInteger, nullable=False),
    Column("max_term_months", Integer, nullable=False),
    Column("frequencies", JSON, nullable=False),
    Column("usury_threshold", String(16)),
    Column("late_interest_rate", String(16)),
    Column("min_coverage", String(16)),
    Column("share_multiple", String(16)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(64)),
    UniqueConstraint("lender_id", "name", name="uq_category_per_lender"),
)

loans = Table(
    "loans",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("borrower_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("lender_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("pool_id", String(36), ForeignKey("pools.id"), nullable=False, index=True),
    Column("category", String(64), nullable=False),
    Column("request_id", String(36)),
    Column("principal_minor", BigInteger, nullable=False),
    Column("annual_rate", String(16), nullable=False),
    Column("term_months", Integer, nullable=False),
    Column("method", String(16), nullable=False),
    Column("frequency", String(16), nullable=False),
    Column("grace_periods", Integer, nullable=False),
    Column("disbursement_date", Date, nullable=False),
    Column("first_due_date", Date),
    Column("fees_minor", BigInteger, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("disbursed_on", Date),
    Column("restructured", Boolean, nullable=False),
    Column("written_off_on", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
    # A human number, PRE-2026-0001 (migration 0011): service.app.references.
    Column("reference", String(24), unique=True, index=True),
)

# Append-only: every operation on a loan, in the order it was recorded.
loan_events = Table(
    "loan_events",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("loan_id", String(36), ForeignKey("loans.id"), nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("value_date", Date, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("payer_kind", String(16), nullable=False),
    Column("payer_ref", String(36)),
    Column("params", JSON),
    Column("note", Text),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(64)),
    # Repayments only: RIM-2026-0001 (migration 0011).
    Column("reference", String(24), unique=True, index=True),
)

# -- guarantees, prepayments, funds (migration 0005) ----------------------------------------

pledge_capacities = Table(
    "pledge_capacities",
    metadata,
    Column("party_id", String(36), ForeignKey("parties.id"), primary_key=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(64)),
)

guarantees = Table(
    "guarantees",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("loan_id", String(36), ForeignKey("loans.id"), nullable=False, index=True),
    Column("guarantor_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("called_minor", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("pending_transfer_id", String(36)),
    Column("released_on", Date),
    Column("date", Date, nullable=False),  # the day the pledge was signed
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
    # A human number, PRE-2026-0001 (migration 0011): service.app.references.
    Column("reference", String(24), unique=True, index=True),
)

guarantee_calls = Table(
    "guarantee_calls",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False),
    Column("loan_id", String(36), ForeignKey("loans.id"), nullable=False, index=True),
    Column("guarantee_id", String(36), ForeignKey("guarantees.id"), nullable=False,
           index=True),
    Column("date", Date, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
)

prepayments = Table(
    "prepayments",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("producer_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("gas_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("product", String(200), nullable=False),
    Column("unit", String(32), nullable=False),
    Column("unit_price_minor", BigInteger, nullable=False),
    Column("expires_on", Date, nullable=False),
    Column("on_expiry", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("delivered_minor", BigInteger, nullable=False),
    Column("closed_on", Date),
    Column("settlement_kind", String(16)),
    Column("settlement_minor", BigInteger),
    Column("new_prepayment_id", String(36)),
    Column("rolled_from", String(36)),
    Column("request_id", String(36)),
    Column("date", Date, nullable=False),  # the day the GAS paid
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
    # A human number, PRE-2026-0001 (migration 0011): service.app.references.
    Column("reference", String(24), unique=True, index=True),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("prepayment_id", String(36), ForeignKey("prepayments.id"), nullable=False,
           index=True),
    Column("date", Date, nullable=False),
    Column("quantity", String(32), nullable=False),
    Column("value_minor", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
)

funds = Table(
    "funds",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("gas_id", String(36), ForeignKey("parties.id"), index=True),
    Column("owner_id", String(36), ForeignKey("parties.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
)

contributions = Table(
    "contributions",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("fund_id", String(36), ForeignKey("funds.id"), nullable=False, index=True),
    Column("gas_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("date", Date, nullable=False),
    Column("earmark_producer_id", String(36), ForeignKey("parties.id")),
    Column("note", Text),
    Column("basis", JSON),
    Column("source", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
    # A human number, PRE-2026-0001 (migration 0011): service.app.references.
    Column("reference", String(24), unique=True, index=True),
)

payouts = Table(
    "payouts",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("fund_id", String(36), ForeignKey("funds.id"), nullable=False, index=True),
    Column("producer_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("from_earmark_minor", BigInteger, nullable=False),
    Column("from_general_minor", BigInteger, nullable=False),
    Column("date", Date, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("loan_id", String(36), ForeignKey("loans.id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
    # A human number, PRE-2026-0001 (migration 0011): service.app.references.
    Column("reference", String(24), unique=True, index=True),
)

# -- reversals (migration 0015) ---------------------------------------------------------------

# Append-only: each operation reversed (a contribution, payout, delivery, repayment or
# guarantee call), by whom, when and why; ``id`` is the reversal command's id. The
# reversed operation stays in its own table and counts as never recorded.
reversals = Table(
    "reversals",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("target_id", String(36), nullable=False),
    Column("value_date", Date, nullable=False),  # the reversed operation's
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
    UniqueConstraint("kind", "target_id", name="uq_reversal_target"),
)

# -- match-funding rules (migration 0007) --------------------------------------------------

# "When GAS prepayments reach ``threshold`` of a request, this pool tops up the rest,
# up to ``cap``" (and, if set, up to ``budget`` in all).
match_rules = Table(
    "match_rules",
    metadata,
    Column("pool_id", String(36), ForeignKey("pools.id"), primary_key=True),
    Column("threshold", String(16), nullable=False),
    Column("cap_minor", BigInteger, nullable=False),
    Column("budget_minor", BigInteger),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(64)),
)

# -- the replayed schedule of each loan (migration 0009) -----------------------------------

# Derived data, rewritten whenever a loan operation is booked: each installment as the
# replay of all the loan's operations leaves it. It lets a portfolio's arrears be read
# with one query; ``filiera verify`` checks it against a fresh replay.
loan_installments = Table(
    "loan_installments",
    metadata,
    Column("loan_id", String(36), ForeignKey("loans.id"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("due_date", Date, nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("interest_minor", BigInteger, nullable=False),
    Column("paid_principal_minor", BigInteger, nullable=False),
    Column("paid_interest_minor", BigInteger, nullable=False),
    Column("penalty_minor", BigInteger, nullable=False),
    Column("paid_penalty_minor", BigInteger, nullable=False),
    # The latest value date among the operations replayed: the rows hold for any date
    # on or after it.
    Column("through", Date, nullable=False),
)

# -- accounts created through the raw ledger API (migration 0003) ---------------------------

# Raw transfers may only move money between these: the instruments' accounts change only
# through their instruments, so every instrument can be rebuilt from the journal.
api_accounts = Table(
    "api_accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# -- funding requests (migration 0006); written only by service.app.requests --------------

funding_requests = Table(
    "funding_requests",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("producer_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("instrument", String(16), nullable=False),
    Column("term_months", Integer, nullable=False),
    Column("needed_by", Date),
    Column("business", JSON),
    Column("social_notes", Text),
    Column("environmental_notes", Text),
    Column("links", JSON),
    # The status as of the last history row (cached here for filters and the to-do view).
    Column("status", String(16), nullable=False, index=True),
    Column("previous_status", String(16)),
    Column("status_since", DateTime(timezone=True), nullable=False),
    Column("status_by", String(64)),
    Column("funding_id", String(36)),
    Column("funded_on", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64)),
    # A human number, PRE-2026-0001 (migration 0011): service.app.references.
    Column("reference", String(24), unique=True, index=True),
    # The lender the request belongs to: the one whose officer first took it under review
    # (migration 0026; NULL while no officer bound to a lender has).
    Column("lender_id", String(36)),
)

request_gas = Table(
    "request_gas",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("funding_requests.id"), nullable=False,
           index=True),
    Column("gas_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
)

# Append-only: every status change, who made it and why.
request_history = Table(
    "request_history",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("request_id", String(36), ForeignKey("funding_requests.id"), nullable=False,
           index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", String(64), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("note", Text),
    # An edit (PATCH, migration 0021): {field: {"from": old, "to": new}}, as answered.
    Column("changes", JSON),
)

# Append-only: each PUT that changes the assessment adds a version; the last one counts.
request_assessments = Table(
    "request_assessments",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("request_id", String(36), ForeignKey("funding_requests.id"), nullable=False,
           index=True),
    Column("economic_score", Integer, nullable=False),
    Column("social_score", Integer, nullable=False),
    Column("notes", Text, nullable=False),
    Column("site_visit_date", Date),
    Column("decision_date", Date),
    Column("decision_reference", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64), nullable=False),
)

# Append-only: each PUT that changes the terms adds a version; the last one counts.
request_terms = Table(
    "request_terms",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("request_id", String(36), ForeignKey("funding_requests.id"), nullable=False,
           index=True),
    Column("terms", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64), nullable=False),
)

request_instruments = Table(
    "request_instruments",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("funding_requests.id"), nullable=False,
           index=True),
    Column("kind", String(16), nullable=False),  # loan | guarantee | prepayment
    Column("instrument_id", String(36), nullable=False, index=True),
    Column("position", Integer, nullable=False),
)

request_interests = Table(
    "request_interests",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("request_id", String(36), ForeignKey("funding_requests.id"), nullable=False,
           index=True),
    Column("gas_id", String(36), ForeignKey("parties.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # prepayment | guarantee
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64), nullable=False),
)

# -- signed checkpoints of the chain head (migration 0013) -----------------------------------

# Each also appended to a log file outside the database; verify checks both against the
# journal under a key kept outside it (ledger/checkpoints.py).
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("count", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("signature", String(64), nullable=False),
)

# -- references (migration 0011) ----------------------------------------------------------

# The last number given per kind (PRE, RIC, ...) and year: updated, and so locked, inside
# the transaction that records the item, so numbers are gap-free and never shared.
reference_counters = Table(
    "reference_counters",
    metadata,
    Column("kind", String(3), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)

# -- audit (migration 0020) ----------------------------------------------------------------

# Who changed what, through which door: every change of state, login, logout and 403.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64)),
    Column("channel", String(8), nullable=False),
    Column("operation", String(200), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("ids", Text, nullable=False),  # JSON list of ids
    Column("changes", Text),  # JSON: the body of a PUT or PATCH
    Column("outcome", Integer, nullable=False),
    Column("http_request_id", String(64)),
    # One per audited event, made before the first try to write it (migration 0027):
    # the writer inserts an entry only when its key is absent.
    Column("entry_key", String(36)),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_actor", "actor"),
    Index("ux_audit_log_entry_key", "entry_key", unique=True),
)

# -- closed periods (migration 0021) -------------------------------------------------------

# One row (id 1, seeded by migration 0023 with a NULL date): nothing valued on or before
# ``closed_through`` may be recorded or reversed. The row always exists, so closing is an
# UPDATE of the row every money operation reads under a shared lock.
books_closed = Table(
    "books_closed",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("closed_through", Date, nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("closed_by", String(64), nullable=True),
)

# -- login throttling (migration 0025) -----------------------------------------------------

# Failed logins of the last minute, shared by every server process: one row per failure
# and counter (``scope`` "u": one username from one address, "a": one address). ``key``
# is a SHA-256 of what is counted (a username typed by mistake may be a password); ``at``
# is microseconds since the epoch. Rows older than a minute are deleted, and the table
# never holds more than the limiter's bound.
login_failures = Table(
    "login_failures",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("scope", String(1), nullable=False),
    Column("key", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_login_failures_key_at", "key", "at"),
    Index("ix_login_failures_at", "at"),
)
