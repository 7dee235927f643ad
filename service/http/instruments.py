"""HTTP for pledge capacities, guarantees, prepayments, contributions and funds."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from litestar import Controller, Response, get, post, put
from sqlalchemy import Connection, select

from ledger.funds import surcharge_contribution
from service.app import instruments as inst
from service.app import lending
from service.app.auth import Principal
from service.app.common import (
    check_filters,
    check_uuid,
    money_minor,
    money_out,
    page,
    paginate,
    parse_date,
    parse_decimal_string,
    path_uuid,
    query_date,
)
from service.app.context import AppContext
from service.app.errors import Errors, Forbidden, NotFound, invalid
from service.app.idempotency import once
from service.app.instruments_views import (
    ON_EXPIRY,
    CallIn,
    CapacityIn,
    CloseIn,
    CommandIn,
    ContributionIn,
    DeliveryIn,
    FundIn,
    GuaranteeIn,
    PayoutIn,
    PrepaymentIn,
    _capacity_json,
    _visible_guarantor,
    contribution_json,
    fund_json,
    guarantee_json,
    payout_json,
    prepayment_json,
    visible_fund,
    visible_guarantee,
    visible_prepayment,
)
from service.app.loans import visible_loan
from service.app.parties import get_party, refuse_acting_for
from service.db.tables import (
    contributions,
    funds,
    guarantees,
    loans,
    payouts,
    prepayments,
)


class PledgeCapacityController(Controller):
    path = "/api/parties/{party_id:str}/pledge-capacity"
    tags = ["guarantees"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @put("/", sync_to_thread=True)
    def set_capacity(self, party_id: str, data: CapacityIn, ctx: AppContext,
                     principal: Principal) -> dict[str, Any]:
        pid = path_uuid(party_id, "party")
        errors = Errors()
        amount = money_minor(data.amount, "amount", errors, allow_zero=True)
        errors.raise_if_any()

        def action(conn: Connection) -> dict[str, Any]:
            party = _visible_guarantor(conn, principal, pid)
            if not (principal.is_staff or (principal.role == "gas"
                                           and principal.party_id == pid)):
                raise Forbidden("officers, or a GAS user for its own GAS")
            if party.kind not in ("gas", "person", "producer"):
                raise invalid("party_id", "only a GAS, a person or a producer guarantees")
            inst.set_capacity(conn, pid, amount, principal.username, str(uuid.uuid4()))
            return _capacity_json(conn, pid)

        return ctx.write(action)

    @get("/", sync_to_thread=True)
    def get_capacity(self, party_id: str, ctx: AppContext, principal: Principal
                     ) -> dict[str, Any]:
        pid = path_uuid(party_id, "party")

        def read(conn: Connection) -> dict[str, Any]:
            _visible_guarantor(conn, principal, pid)
            return _capacity_json(conn, pid)

        return ctx.read(read)


class GuaranteeController(Controller):
    path = "/api/guarantees"
    tags = ["guarantees"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201)
    def create(self, data: GuaranteeIn, ctx: AppContext, principal: Principal
               ) -> Response[Any]:
        errors = Errors()
        gid = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        loan_id = check_uuid(data.loan_id, "loan_id", errors)
        guarantor_id = check_uuid(data.guarantor_id, "guarantor_id", errors)
        amount = money_minor(data.amount, "amount", errors)
        errors.raise_if_any()
        if not (principal.is_staff or (principal.role == "gas"
                                       and principal.party_id == guarantor_id)):
            ctx.read(lambda conn: refuse_acting_for(
                conn, principal, guarantor_id,
                "officers, or a GAS user for its own GAS as guarantor"))

        def action(conn: Connection) -> tuple[int, Any]:
            if not principal.is_staff:
                # A GAS user sees no loan (only its own guarantees): a loan it could not
                # pledge on is "not found" for it, so its status does not leak.
                loan = conn.execute(select(loans.c.status)
                                    .where(loans.c.id == str(loan_id))).first()
                if loan is None or loan.status not in ("approved", "active"):
                    raise NotFound("loan")

            def create() -> tuple[int, Any]:
                row = inst.create_guarantee(conn, ctx, guarantee_id=gid, loan_id=str(loan_id),
                                            guarantor_id=str(guarantor_id), amount=amount,
                                            username=principal.username)
                return 201, guarantee_json(row)

            return once(conn, data.id, "POST /api/guarantees", data, principal.username,
                        create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True)
    def list_guarantees(self, ctx: AppContext, principal: Principal,
                        guarantor_id: str | None = None, loan_id: str | None = None,
                        status: str | None = None, limit: int | None = None,
                        cursor: str | None = None) -> dict[str, Any]:
        guarantor_id, loan_id = check_filters(
            {"guarantor_id": guarantor_id, "loan_id": loan_id},
            {"status": (status, ("active", "released", "called"))})

        def read(conn: Connection) -> dict[str, Any]:
            query = select(guarantees)
            if guarantor_id:
                query = query.where(guarantees.c.guarantor_id == guarantor_id)
            if loan_id:
                query = query.where(guarantees.c.loan_id == loan_id)
            if status:
                query = query.where(guarantees.c.status == status)
            if principal.role == "gas":
                query = query.where(guarantees.c.guarantor_id == principal.party_id)
            elif principal.role == "producer":
                own = select(loans.c.id).where(loans.c.borrower_id == principal.party_id)
                query = query.where(guarantees.c.loan_id.in_(own))
            rows, nxt = paginate(conn, query, guarantees.c.seq, limit, cursor)
            return page([guarantee_json(r) for r in rows], nxt)

        return ctx.read(read)

    @get("/{guarantee_id:str}", sync_to_thread=True)
    def get_guarantee(self, guarantee_id: str, ctx: AppContext, principal: Principal
                      ) -> dict[str, Any]:
        gid = path_uuid(guarantee_id, "guarantee")
        return ctx.read(lambda conn: guarantee_json(visible_guarantee(conn, principal, gid)))

    @post("/{guarantee_id:str}/release", sync_to_thread=True, status_code=200)
    def release(self, guarantee_id: str, ctx: AppContext, principal: Principal,
                data: CommandIn | None = None) -> Response[Any]:
        gid = path_uuid(guarantee_id, "guarantee")
        body = data or CommandIn()
        errors = Errors()
        op_id = check_uuid(body.id, "id", errors) or str(uuid.uuid4())
        on = parse_date(body.date, "date", errors, required=False)
        errors.raise_if_any()
        released_on = on or date.today()  # a release always has its date (reports use it)

        def action(conn: Connection) -> tuple[int, Any]:
            row = visible_guarantee(conn, principal, gid)
            principal.require("officer")

            def run() -> tuple[int, Any]:
                return 200, guarantee_json(inst.release_guarantee(conn, row, op_id,
                                                                  released_on))

            return once(conn, body.id, f"POST /api/guarantees/{gid}/release", body,
                        principal.username, run)

        status, out = ctx.write(action)
        return Response(out, status_code=status)


class LoanGuaranteeController(Controller):
    path = "/api/loans/{loan_id:str}"
    tags = ["guarantees"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/guarantee-calls", sync_to_thread=True, status_code=200)
    def call(self, loan_id: str, data: CallIn, ctx: AppContext, principal: Principal
             ) -> Response[Any]:

        lid = path_uuid(loan_id, "loan")
        errors = Errors()
        call_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        amount = money_minor(data.amount, "amount", errors)
        on = parse_date(data.date, "date", errors)
        errors.raise_if_any()
        assert on is not None

        def action(conn: Connection) -> tuple[int, Any]:
            loan = visible_loan(conn, principal, lid, lock=True)
            principal.require("officer")

            def run() -> tuple[int, Any]:
                parts = inst.call_guarantees(conn, ctx, loan, call_id, amount, on,
                                             principal.username)
                return 200, {"id": call_id, "loan_id": lid, "date": on.isoformat(),
                             "amount": money_out(amount),
                             "calls": [{"guarantee_id": g, "amount": money_out(c)}
                                       for g, c in parts]}

            return once(conn, data.id, f"POST /api/loans/{lid}/guarantee-calls", data,
                        principal.username, run)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @post("/guarantees/reduction", sync_to_thread=True, status_code=200)
    def reduce(self, loan_id: str, data: CommandIn, ctx: AppContext, principal: Principal
               ) -> Response[Any]:
        """Shrink the loan's active pledges in proportion to the principal repaid."""

        lid = path_uuid(loan_id, "loan")
        errors = Errors()
        op_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        on = parse_date(data.date, "date", errors)
        errors.raise_if_any()
        assert on is not None

        def action(conn: Connection) -> tuple[int, Any]:
            loan = visible_loan(conn, principal, lid, lock=True)
            principal.require("officer")

            def run() -> tuple[int, Any]:
                rows = inst.reduce_pledges(conn, loan, op_id, on, principal.username)
                coverage = inst.coverage_value(conn, loan, on)
                return 200, {"items": [guarantee_json(r) for r in rows],
                             "coverage": None if coverage is None else str(coverage)}

            return once(conn, data.id, f"POST /api/loans/{lid}/guarantees/reduction", data,
                        principal.username, run)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/guarantees", sync_to_thread=True)
    def loan_guarantees(self, loan_id: str, ctx: AppContext, principal: Principal,
                        as_of: str | None = None) -> dict[str, Any]:

        lid = path_uuid(loan_id, "loan")
        day = query_date(as_of, "as_of") or date.today()

        def read(conn: Connection) -> dict[str, Any]:
            loan = visible_loan(conn, principal, lid)
            standing = inst.guarantees_on(conn, lid, day if as_of else None)
            if principal.role == "gas":
                standing = [(r, on) for r, on in standing if r.guarantor_id == principal.party_id]
            coverage = inst.coverage_value(conn, loan, day)
            return {"items": [guarantee_json(r, on) for r, on in standing],
                    "coverage": None if coverage is None else str(coverage)}

        return ctx.read(read)


class PrepaymentController(Controller):
    path = "/api/prepayments"
    tags = ["prepayments"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201)
    def create(self, data: PrepaymentIn, ctx: AppContext, principal: Principal
               ) -> Response[Any]:
        errors = Errors()
        pid = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        producer_id = check_uuid(data.producer_id, "producer_id", errors)
        gas_id = check_uuid(data.gas_id, "gas_id", errors)
        amount = money_minor(data.amount, "amount", errors)
        unit_price = money_minor(data.unit_price, "unit_price", errors)
        expires_on = parse_date(data.expires_on, "expires_on", errors)
        if data.on_expiry not in ON_EXPIRY:
            errors.add("on_expiry", f"one of {', '.join(ON_EXPIRY)}")
        if not data.product.strip() or len(data.product) > 200:
            errors.add("product", "1 to 200 characters")
        if not data.unit.strip() or len(data.unit) > 32:
            errors.add("unit", "1 to 32 characters, such as 'kg'")
        errors.raise_if_any()
        assert expires_on is not None
        if not (principal.is_staff or (principal.role == "gas" and principal.party_id == gas_id)):
            ctx.read(lambda conn: refuse_acting_for(
                conn, principal, gas_id, "officers, or a GAS user for its own GAS"))

        def action(conn: Connection) -> tuple[int, Any]:
            def create() -> tuple[int, Any]:
                row = inst.create_prepayment(
                    conn, ctx, prepayment_id=pid, producer_id=str(producer_id),
                    gas_id=str(gas_id), amount=amount, product=data.product.strip(),
                    unit=data.unit.strip(), unit_price=unit_price, expires_on=expires_on,
                    on_expiry=data.on_expiry, username=principal.username)
                return 201, prepayment_json(conn, row)

            return once(conn, data.id, "POST /api/prepayments", data, principal.username,
                        create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True)
    def list_prepayments(self, ctx: AppContext, principal: Principal,
                         producer_id: str | None = None, gas_id: str | None = None,
                         status: str | None = None, product: str | None = None,
                         limit: int | None = None, cursor: str | None = None
                         ) -> dict[str, Any]:
        producer_id, gas_id = check_filters(
            {"producer_id": producer_id, "gas_id": gas_id},
            {"status": (status, ("open", "closed"))})

        def read(conn: Connection) -> dict[str, Any]:
            query = select(prepayments)
            if producer_id:
                query = query.where(prepayments.c.producer_id == producer_id)
            if gas_id:
                query = query.where(prepayments.c.gas_id == gas_id)
            if status:
                query = query.where(prepayments.c.status == status)
            if product:
                query = query.where(prepayments.c.product == product)
            if not principal.is_staff:
                pid = principal.party_id or ""
                query = query.where((prepayments.c.gas_id == pid)
                                    | (prepayments.c.producer_id == pid))
            rows, nxt = paginate(conn, query, prepayments.c.seq, limit, cursor)
            body = page([prepayment_json(conn, r) for r in rows], nxt)
            # The campaign view: what every listed agreement adds up to.
            all_rows = conn.execute(query).all()
            body["totals"] = {
                "paid": money_out(sum(r.amount_minor for r in all_rows)),
                "delivered_value": money_out(sum(r.delivered_minor for r in all_rows)),
                "remaining": money_out(sum(0 if r.status == "closed"
                                           else r.amount_minor - r.delivered_minor
                                           for r in all_rows)),
                "count": len(all_rows)}
            return body

        return ctx.read(read)

    @get("/{prepayment_id:str}", sync_to_thread=True)
    def get_prepayment(self, prepayment_id: str, ctx: AppContext, principal: Principal
                       ) -> dict[str, Any]:
        pid = path_uuid(prepayment_id, "prepayment")
        return ctx.read(lambda conn: prepayment_json(
            conn, visible_prepayment(conn, principal, pid)))

    @post("/{prepayment_id:str}/deliveries", sync_to_thread=True, status_code=200)
    def deliver(self, prepayment_id: str, data: DeliveryIn, ctx: AppContext,
                principal: Principal) -> Response[Any]:
        pid = path_uuid(prepayment_id, "prepayment")
        errors = Errors()
        did = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        on = parse_date(data.date, "date", errors)
        quantity = parse_decimal_string(data.quantity, "quantity", errors, max_decimals=3)
        errors.raise_if_any()
        assert on is not None

        def action(conn: Connection) -> tuple[int, Any]:
            row = visible_prepayment(conn, principal, pid)

            def run() -> tuple[int, Any]:
                updated = inst.record_delivery(conn, row, did, on, quantity,
                                               principal.username)
                return 200, prepayment_json(conn, updated)

            return once(conn, data.id, f"POST /api/prepayments/{pid}/deliveries", data,
                        principal.username, run)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @post("/{prepayment_id:str}/close", sync_to_thread=True, status_code=200)
    def close(self, prepayment_id: str, data: CloseIn, ctx: AppContext,
              principal: Principal) -> Response[Any]:
        pid = path_uuid(prepayment_id, "prepayment")
        errors = Errors()
        op_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        on = parse_date(data.date, "date", errors)
        new_expiry = parse_date(data.new_expires_on, "new_expires_on", errors, required=False)
        if on is not None and new_expiry is not None and new_expiry <= on:
            errors.add("new_expires_on", "after the date of the close: the new prepayment "
                       "must not be born expired")
        errors.raise_if_any()
        assert on is not None

        def action(conn: Connection) -> tuple[int, Any]:
            row = visible_prepayment(conn, principal, pid)
            if not (principal.is_staff or principal.party_id == row.gas_id):
                raise Forbidden("officers, or the prepaying GAS's user, close a prepayment")

            def run() -> tuple[int, Any]:
                settlement = inst.close_prepayment(conn, ctx, row, op_id, on, new_expiry,
                                                   principal.username)
                body = prepayment_json(conn, inst.get_prepayment(conn, pid))
                body["settlement"] = settlement
                return 200, body

            return once(conn, data.id, f"POST /api/prepayments/{pid}/close", data,
                        principal.username, run)

        status, body = ctx.write(action)
        return Response(body, status_code=status)


class ContributionController(Controller):
    path = "/api/contributions"
    tags = ["funds"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201)
    def contribute(self, data: ContributionIn, ctx: AppContext, principal: Principal
                   ) -> Response[Any]:
        errors = Errors()
        cid = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        gas_id = check_uuid(data.gas_id, "gas_id", errors)
        fund_id = check_uuid(data.fund_id, "fund_id", errors)
        earmark = check_uuid(data.earmark_producer_id, "earmark_producer_id", errors)
        amount = money_minor(data.amount, "amount", errors)
        on = parse_date(data.date, "date", errors)
        basis: dict[str, Any] | None = None
        if data.basis is not None:
            rate = money_minor(data.basis.rate, "basis.rate", errors)
            qty = parse_decimal_string(data.basis.quantity, "basis.quantity", errors,
                                       max_decimals=3)
            if not errors.items:

                expected = surcharge_contribution(rate, qty)
                if expected != amount:
                    errors.add("amount", f"the basis gives {lending.dec(expected)} EUR "
                               f"({data.basis.rate.amount} x {data.basis.quantity} "
                               f"{data.basis.unit})")
                basis = {"rate": money_out(rate), "quantity": str(qty),
                         "unit": data.basis.unit}
        errors.raise_if_any()
        assert on is not None and gas_id is not None
        if not (principal.is_staff or (principal.role == "gas" and principal.party_id == gas_id)):
            ctx.read(lambda conn: refuse_acting_for(
                conn, principal, gas_id, "officers, or a GAS user for its own GAS"))

        def action(conn: Connection) -> tuple[int, Any]:
            def create() -> tuple[int, Any]:
                gas = get_party(conn, gas_id)
                if gas is None or gas.kind != "gas":
                    raise invalid("gas_id", "no GAS with this id")
                fund = conn.execute(select(funds).where(
                    funds.c.id == (fund_id or inst.gas_fund_id(gas_id)))).first()
                if fund is None:
                    raise invalid("fund_id", "no fund with this id")
                if not principal.is_staff and fund.gas_id != principal.party_id:
                    raise NotFound("fund")  # a GAS user sees only its own GAS's fund
                if earmark:
                    producer = get_party(conn, earmark)
                    if producer is None or producer.kind != "producer":
                        raise invalid("earmark_producer_id", "no producer with this id")
                row = inst.contribute(conn, contribution_id=cid, fund=fund, gas_id=gas_id,
                                      amount=amount, on=on, earmark_producer_id=earmark,
                                      note=data.note, basis=basis, username=principal.username)
                return 201, contribution_json(row)

            return once(conn, data.id, "POST /api/contributions", data, principal.username,
                        create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True)
    def list_contributions(self, ctx: AppContext, principal: Principal,
                           gas_id: str | None = None, fund_id: str | None = None,
                           limit: int | None = None, cursor: str | None = None
                           ) -> dict[str, Any]:
        gas_id, fund_id = check_filters({"gas_id": gas_id, "fund_id": fund_id})

        def read(conn: Connection) -> dict[str, Any]:
            query = select(contributions)
            if gas_id:
                query = query.where(contributions.c.gas_id == gas_id)
            if fund_id:
                query = query.where(contributions.c.fund_id == fund_id)
            if principal.role == "gas":
                query = query.where(contributions.c.gas_id == principal.party_id)
            elif principal.role == "producer":
                query = query.where(contributions.c.earmark_producer_id == principal.party_id)
            rows, nxt = paginate(conn, query, contributions.c.seq, limit, cursor)
            return page([contribution_json(r) for r in rows], nxt)

        return ctx.read(read)


class FundController(Controller):
    path = "/api/funds"
    tags = ["funds"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/", sync_to_thread=True)
    def list_funds(self, ctx: AppContext, principal: Principal, gas_id: str | None = None,
                   limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        (gas_id,) = check_filters({"gas_id": gas_id})

        def read(conn: Connection) -> dict[str, Any]:
            query = select(funds)
            if gas_id:
                query = query.where(funds.c.gas_id == gas_id)
            if principal.role == "gas":
                query = query.where(funds.c.gas_id == principal.party_id)
            if principal.role == "producer":
                rows = [r for r in conn.execute(query.order_by(funds.c.seq)).all()
                        if inst.fund_state(conn, r).earmarked.get(principal.party_id or "", 0)]
                return page([fund_json(conn, r, principal) for r in rows], None)
            rows, nxt = paginate(conn, query, funds.c.seq, limit, cursor)
            return page([fund_json(conn, r, principal) for r in rows], nxt)

        return ctx.read(read)

    @post("/", sync_to_thread=True, status_code=201)
    def create_fund(self, data: FundIn, ctx: AppContext, principal: Principal
                    ) -> Response[Any]:
        errors = Errors()
        fid = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        owner = check_uuid(data.owner_id, "owner_id", errors)
        if not data.name.strip() or len(data.name) > 200:
            errors.add("name", "1 to 200 characters")
        errors.raise_if_any()
        principal.require("officer")

        def action(conn: Connection) -> tuple[int, Any]:
            def create() -> tuple[int, Any]:
                party = get_party(conn, str(owner))
                if party is None or party.kind not in ("des", "lender", "gas"):
                    raise invalid("owner_id", "a DES, a lender or a GAS holds a shared fund")
                row = inst.create_fund(conn, fund_id=fid, name=data.name.strip(), gas_id=None,
                                       owner_id=str(owner), username=principal.username)
                return 201, fund_json(conn, row, principal)

            return once(conn, data.id, "POST /api/funds", data, principal.username, create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/{fund_id:str}", sync_to_thread=True)
    def get_fund(self, fund_id: str, ctx: AppContext, principal: Principal) -> dict[str, Any]:
        fid = path_uuid(fund_id, "fund")
        return ctx.read(lambda conn: fund_json(conn, visible_fund(conn, principal, fid),
                                               principal))

    @post("/{fund_id:str}/payouts", sync_to_thread=True, status_code=201)
    def payout(self, fund_id: str, data: PayoutIn, ctx: AppContext, principal: Principal
               ) -> Response[Any]:
        fid = path_uuid(fund_id, "fund")
        errors = Errors()
        pid = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        producer_id = check_uuid(data.producer_id, "producer_id", errors)
        loan_id = check_uuid(data.loan_id, "loan_id", errors)
        amount = money_minor(data.amount, "amount", errors)
        on = parse_date(data.date, "date", errors)
        if data.kind not in ("grant", "loss_cover"):
            errors.add("kind", "either 'grant' or 'loss_cover'")
        elif data.kind == "loss_cover" and data.loan_id is None:
            errors.add("loan_id", "a loss cover names the loan it covers")
        errors.raise_if_any()
        assert on is not None

        def action(conn: Connection) -> tuple[int, Any]:
            fund = visible_fund(conn, principal, fid)
            principal.require("officer")

            def create() -> tuple[int, Any]:
                producer = get_party(conn, str(producer_id))
                if producer is None or producer.kind != "producer":
                    raise invalid("producer_id", "no producer with this id")
                loan = None
                if data.kind == "loss_cover":
                    loan = conn.execute(select(loans).where(loans.c.id == loan_id)).first()
                    if loan is None or loan.borrower_id != producer_id:
                        raise invalid("loan_id", "no loan of this producer with this id")
                row = inst.payout(conn, ctx, payout_id=pid, fund=fund,
                                  producer_id=str(producer_id), amount=amount, on=on,
                                  kind=data.kind, loan=loan, username=principal.username)
                return 201, payout_json(row)

            return once(conn, data.id, f"POST /api/funds/{fid}/payouts", data,
                        principal.username, create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/{fund_id:str}/payouts", sync_to_thread=True)
    def list_payouts(self, fund_id: str, ctx: AppContext, principal: Principal,
                     limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        fid = path_uuid(fund_id, "fund")

        def read(conn: Connection) -> dict[str, Any]:
            visible_fund(conn, principal, fid)
            query = select(payouts).where(payouts.c.fund_id == fid)
            if principal.role == "producer":
                query = query.where(payouts.c.producer_id == principal.party_id)
            rows, nxt = paginate(conn, query, payouts.c.seq, limit, cursor)
            return page([payout_json(r) for r in rows], nxt)

        return ctx.read(read)


HANDLERS = [PledgeCapacityController, GuaranteeController, LoanGuaranteeController,
            PrepaymentController, ContributionController, FundController]
