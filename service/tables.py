"""SQL tables of the service (the ledger's own tables live in ``ledger.store``).

Money is stored as ``amount_minor BIGINT`` plus ``currency CHAR(3)``; ids are UUID strings.
Each migration in ``service/migrations/versions`` creates the tables as they stand here.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
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
    UniqueConstraint("gas_id", "producer_id", name="uq_relationship_pair"),
)

# Client-chosen ids of creates and commands: a repeat answers as the first time.
idempotency = Table(
    "idempotency",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("operation", String(100), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("username", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
