"""Long-lived helpers started with the app (the ledger's group-commit writer)."""

from __future__ import annotations

from ledger.group_commit import GroupCommitWriter
from ledger.store import LedgerStore
from service.context import AppContext


def start_services(ctx: AppContext) -> None:
    store = LedgerStore(ctx.engine)
    ctx.services["ledger"] = store
    ctx.services["writer"] = GroupCommitWriter(
        store, max_batches=ctx.settings.group_commit_max_batches)


def stop_services(ctx: AppContext) -> None:
    writer = ctx.services.pop("writer", None)
    if writer is not None:
        writer.close()
