"""GDXP (GAS Data eXchange Protocol) import and export: pure, no database.

``parse`` reads a file into a validated ``GdxpDocument``; ``resolve_gas`` picks the GAS
it is for; ``plan_import`` says what importing it creates, updates and skips given what
the database knows; ``import_answer`` is the API's answer for a plan; ``build_export``
and ``export_json`` write the producers a GAS buys from as a GDXP v1 document."""

from .answer import import_answer
from .document import (
    Address,
    Contact,
    GdxpDocument,
    Order,
    Product,
    Subject,
    SupplierBlock,
)
from .errors import FieldError, GdxpInvalid
from .export import ExportParty, ExportProducer, build_export, export_json
from .plan import (
    FieldChange,
    Importer,
    ImportPlan,
    KnownGas,
    KnownProducer,
    KnownRelationship,
    PriceList,
    ProducerCreate,
    ProducerData,
    ProducerSkip,
    ProducerUpdate,
    RelationshipCreate,
    RelationshipUpdate,
    SkipReason,
    plan_import,
    resolve_gas,
    subject_matches,
)
from .reading import MAX_BYTES, MAX_DEPTH, load, parse
from .schema import load_schema, schema_errors

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "Address",
    "Contact",
    "ExportParty",
    "ExportProducer",
    "FieldChange",
    "FieldError",
    "GdxpDocument",
    "GdxpInvalid",
    "ImportPlan",
    "Importer",
    "KnownGas",
    "KnownProducer",
    "KnownRelationship",
    "Order",
    "PriceList",
    "ProducerCreate",
    "ProducerData",
    "ProducerSkip",
    "ProducerUpdate",
    "Product",
    "RelationshipCreate",
    "RelationshipUpdate",
    "SkipReason",
    "Subject",
    "SupplierBlock",
    "build_export",
    "export_json",
    "import_answer",
    "load",
    "load_schema",
    "parse",
    "plan_import",
    "resolve_gas",
    "schema_errors",
    "subject_matches",
]
