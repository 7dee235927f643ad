"""Funding requests over HTTP: submission, review workflow, assessment, terms, funding,
GAS interest, and the officers' to-do view.

The workflow rules are ``ledger.requests``; this module checks input, visibility and
the order of refusals, keeps the append-only history, and at funding calls the
instrument services (``loans_api.create_loan_row``/``disburse_loan``,
``instruments.create_guarantee``/``create_prepayment``) inside the request's
transaction, so a package is funded whole or not at all.

Tables (written only here; matching and reports read them):

* ``funding_requests``: one row per request; its status columns cache the last
  ``request_history`` row and change in the same transaction.
* ``request_gas``: the GAS a request names (``gas_ids``), for visibility and matching.
* ``request_history``, ``request_assessments``, ``request_terms``: append-only; the
  latest assessment and terms are the ones in force, earlier versions stay.
* ``request_instruments``: what the funding created.
* ``request_interests``: non-binding interest declared by GAS."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from litestar import Controller, Response, get, post, put
from sqlalchemy import (
    Connection,
    and_,
    func,
    insert,
    or_,
    select,
)

from ledger.requests import (
    STATUSES,
    TRANSITION_TARGETS,
    check_funding,
    check_terms_edit,
    check_transition,
)
from service.app.auth import Principal
from service.app.common import (
    check_limit,
    check_uuid,
    money_minor,
    now_utc,
    page,
    paginate,
    parse_date,
    path_uuid,
    query_date,
)
from service.app.context import AppContext
from service.app.errors import Conflict, Errors, Forbidden, NotFound, invalid
from service.app.idempotency import once
from service.app.parties import refuse_acting_for
from service.app.requests import (
    INSTRUMENTS,
    INTEREST_KINDS,
    MAX_TEXT,
    OPEN_STATUSES,
    AssessmentIn,
    FundingIn,
    InterestIn,
    RequestIn,
    RequestTermsIn,
    TransitionIn,
    _amount_filter,
    _day_start,
    _gas_sees,
    _parse_sort,
    _party,
    _refuse,
    _role_first,
    _text,
    assessment_json,
    change_status,
    check_term_parties,
    fund_request,
    get_request,
    has_assessment,
    insert_request,
    interest_json,
    latest_assessment,
    latest_terms,
    request_json,
    requests_json,
    sorted_page,
    terms_json,
    validate_request,
    validate_terms,
    visible_request,
)
from service.db.tables import (
    funding_requests,
    request_assessments,
    request_interests,
    request_terms,
)


class RequestController(Controller):
    path = "/api/requests"
    tags = ["requests"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201)
    def create_request(self, data: RequestIn, ctx: AppContext, principal: Principal
                       ) -> Response[Any]:
        """Submit a request (a producer for itself, an officer on a producer's behalf)."""
        values = validate_request(data)

        def action(conn: Connection) -> tuple[int, Any]:
            errors = Errors()
            producer = _party(conn, values["producer_id"])
            if producer is None or producer.kind != "producer":
                errors.add("producer_id", "no producer with this id")
            for i, gas_id in enumerate(values["gas_ids"]):
                gas = _party(conn, gas_id)
                if gas is None or gas.kind != "gas":
                    errors.add(f"gas_ids.{i}", "no GAS with this id")
            errors.raise_if_any()
            if not (principal.is_staff or (principal.role == "producer"
                                           and principal.party_id == values["producer_id"])):
                raise Forbidden("a producer submits its own requests; officers on a "
                                "producer's behalf")

            def create() -> tuple[int, Any]:
                insert_request(conn, values, principal.username)
                return 201, request_json(conn, values["id"], principal)

            return once(conn, data.id, "POST /api/requests", data, principal.username, create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True)
    def list_requests(
        self, ctx: AppContext, principal: Principal, status: str | None = None,
        producer_id: str | None = None, gas_id: str | None = None,
        instrument: str | None = None, created_from: str | None = None,
        created_to: str | None = None, amount_min: str | None = None,
        amount_max: str | None = None, sort: str | None = None, limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Requests the user may see, oldest first unless ``sort`` says otherwise
        (``created_at``, ``amount``, ``needed_by``; ``-`` in front for descending)."""
        statuses = [s for s in (status or "").split(",") if s]
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise invalid("status", f"one or more (comma-separated) of {', '.join(STATUSES)}")
        if instrument is not None and instrument not in INSTRUMENTS:
            raise invalid("instrument", f"one of {', '.join(INSTRUMENTS)}")
        errors = Errors()
        producer = check_uuid(producer_id, "producer_id", errors)
        gas = check_uuid(gas_id, "gas_id", errors)
        errors.raise_if_any()
        day_from = query_date(created_from, "created_from")
        day_to = query_date(created_to, "created_to")
        low = _amount_filter(amount_min, "amount_min")
        high = _amount_filter(amount_max, "amount_max")
        _parse_sort(sort)
        check_limit(limit)
        c = funding_requests.c

        def read(conn: Connection) -> dict[str, Any]:
            query = select(funding_requests)
            if statuses:
                query = query.where(c.status.in_(statuses))
            if producer:
                query = query.where(c.producer_id == producer)
            if gas:
                query = query.where(_gas_sees(gas))
            if instrument:
                query = query.where(c.instrument == instrument)
            if day_from:
                query = query.where(c.created_at >= _day_start(day_from))
            if day_to:
                query = query.where(c.created_at < _day_start(day_to + timedelta(days=1)))
            if low is not None:
                query = query.where(c.amount_minor >= low)
            if high is not None:
                query = query.where(c.amount_minor <= high)
            if principal.role == "producer":
                query = query.where(c.producer_id == (principal.party_id or ""))
            elif principal.role == "gas":
                query = query.where(_gas_sees(principal.party_id or ""))
            rows, nxt = sorted_page(conn, query, sort, limit, cursor)
            return page(requests_json(conn, rows, principal), nxt)

        return ctx.read(read)

    @get("/todo", sync_to_thread=True)
    def todo(self, ctx: AppContext, principal: Principal, limit: int | None = None
             ) -> dict[str, Any]:
        """An officer's to-do list, each section oldest first by when the request
        entered its status: new requests to review, answers to a request for
        information, requests this officer has under review, approved ones to fund."""
        principal.require("officer")
        size = check_limit(limit)
        c = funding_requests.c
        sections = {
            "waiting_review": and_(c.status == "submitted",
                                   or_(c.previous_status.is_(None),
                                       c.previous_status != "needs_info")),
            "info_provided": and_(c.status == "submitted", c.previous_status == "needs_info"),
            "in_review": and_(c.status == "under_review", c.status_by == principal.username),
            "to_fund": and_(c.status == "approved", c.funding_id.is_(None)),
        }

        def read(conn: Connection) -> dict[str, Any]:
            out = {}
            for name, where in sections.items():
                rows = list(conn.execute(select(funding_requests).where(where)
                                         .order_by(c.status_since, c.seq).limit(size)))
                count = conn.execute(select(func.count()).select_from(funding_requests)
                                     .where(where)).scalar_one()
                out[name] = {"count": count, "items": requests_json(conn, rows, principal)}
            return out

        return ctx.read(read)

    @get("/{request_id:str}", sync_to_thread=True)
    def get_request(self, request_id: str, ctx: AppContext, principal: Principal
                    ) -> dict[str, Any]:
        rid = path_uuid(request_id, "request")

        def read(conn: Connection) -> dict[str, Any]:
            visible_request(conn, principal, rid)
            return request_json(conn, rid, principal)

        return ctx.read(read)

    @post("/{request_id:str}/transitions", sync_to_thread=True, status_code=200)
    def transition(self, request_id: str, data: TransitionIn, ctx: AppContext,
                   principal: Principal) -> Response[Any]:
        rid = path_uuid(request_id, "request")
        errors = Errors()
        check_uuid(data.id, "id", errors)
        if data.to not in TRANSITION_TARGETS:
            errors.add("to", f"one of {', '.join(TRANSITION_TARGETS)}")
        if len(data.note) > MAX_TEXT:
            errors.add("note", f"at most {MAX_TEXT} characters")
        errors.raise_if_any()

        def action(conn: Connection) -> tuple[int, Any]:
            row = visible_request(conn, principal, rid, lock=True)
            is_own = principal.role == "producer" and row.producer_id == principal.party_id

            def check() -> None:
                check_transition(row.status, data.to, principal.role, is_own=is_own,
                                 note=data.note, has_assessment=has_assessment(conn, rid))

            _role_first(check)

            def run() -> tuple[int, Any]:
                _refuse(check)
                change_status(conn, row, data.to, principal.username, data.note.strip())
                return 200, request_json(conn, rid, principal)

            return once(conn, data.id, f"POST /api/requests/{rid}/transitions", data,
                        principal.username, run)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @put("/{request_id:str}/assessment", sync_to_thread=True)
    def assess(self, request_id: str, data: AssessmentIn, ctx: AppContext,
               principal: Principal) -> dict[str, Any]:
        """Record the officers' assessment; an unchanged one adds no version."""
        rid = path_uuid(request_id, "request")
        errors = Errors()
        for name in ("economic_score", "social_score"):
            if not 0 <= getattr(data, name) <= 10:
                errors.add(name, "an integer from 0 to 10")
        if len(data.notes) > MAX_TEXT:
            errors.add("notes", f"at most {MAX_TEXT} characters")
        site_visit = parse_date(data.site_visit_date, "site_visit_date", errors, required=False)
        decision = parse_date(data.decision_date, "decision_date", errors, required=False)
        reference = _text(data.decision_reference, "decision_reference", errors, limit=200)
        errors.raise_if_any()
        values = {"economic_score": data.economic_score, "social_score": data.social_score,
                  "notes": data.notes.strip(), "site_visit_date": site_visit,
                  "decision_date": decision, "decision_reference": reference}

        def action(conn: Connection) -> dict[str, Any]:
            visible_request(conn, principal, rid, lock=True)
            principal.require("officer")
            latest = latest_assessment(conn, rid)
            if latest is None or any(getattr(latest, k) != v for k, v in values.items()):
                conn.execute(insert(request_assessments).values(
                    id=str(uuid.uuid4()), request_id=rid, **values, created_at=now_utc(),
                    created_by=principal.username))
                latest = latest_assessment(conn, rid)
            return assessment_json(latest)

        return ctx.write(action)

    @get("/{request_id:str}/assessment", sync_to_thread=True)
    def get_assessment(self, request_id: str, ctx: AppContext, principal: Principal
                       ) -> dict[str, Any]:
        rid = path_uuid(request_id, "request")

        def read(conn: Connection) -> dict[str, Any]:
            visible_request(conn, principal, rid)
            if principal.role == "gas":
                raise Forbidden("the assessment is for officers and the producer")
            latest = latest_assessment(conn, rid)
            if latest is None:
                raise NotFound("assessment")
            return assessment_json(latest)

        return ctx.read(read)

    @put("/{request_id:str}/terms", sync_to_thread=True)
    def set_terms(self, request_id: str, data: RequestTermsIn, ctx: AppContext,
                  principal: Principal) -> dict[str, Any]:
        """Set the financing package (officers, under review or approved); unchanged
        terms add no version."""
        rid = path_uuid(request_id, "request")
        doc = validate_terms(data)

        def action(conn: Connection) -> dict[str, Any]:
            row = get_request(conn, rid, lock=True)
            check_term_parties(conn, doc, row.producer_id)
            row = visible_request(conn, principal, rid)
            _refuse(lambda: check_terms_edit(row.status, principal.role))
            latest = latest_terms(conn, rid)
            if latest is None or latest.terms != doc:
                conn.execute(insert(request_terms).values(
                    id=str(uuid.uuid4()), request_id=rid, terms=doc, created_at=now_utc(),
                    created_by=principal.username))
                latest = latest_terms(conn, rid)
            return terms_json(latest)

        return ctx.write(action)

    @get("/{request_id:str}/terms", sync_to_thread=True)
    def get_terms(self, request_id: str, ctx: AppContext, principal: Principal
                  ) -> dict[str, Any]:
        rid = path_uuid(request_id, "request")

        def read(conn: Connection) -> dict[str, Any]:
            visible_request(conn, principal, rid)
            if principal.role == "gas":
                raise Forbidden("the terms are for officers and the producer")
            latest = latest_terms(conn, rid)
            if latest is None:
                raise NotFound("terms")
            return terms_json(latest)

        return ctx.read(read)

    @post("/{request_id:str}/funding", sync_to_thread=True, status_code=200)
    def fund(self, request_id: str, data: FundingIn, ctx: AppContext, principal: Principal
             ) -> Response[Any]:
        """Create the package of the terms in force, all or nothing: the request is then
        ``funded`` with its ``instruments``."""
        rid = path_uuid(request_id, "request")
        errors = Errors()
        op_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        on = parse_date(data.date, "date", errors)
        errors.raise_if_any()
        assert on is not None

        def action(conn: Connection) -> tuple[int, Any]:
            row = visible_request(conn, principal, rid, lock=True)
            terms_row = latest_terms(conn, rid)

            def check() -> None:
                check_funding(row.status, principal.role, has_terms=terms_row is not None)

            _role_first(check)

            def run() -> tuple[int, Any]:
                _refuse(check)
                fund_request(conn, ctx, row, terms_row.terms, op_id, on, principal.username)
                return 200, request_json(conn, rid, principal)

            return once(conn, data.id, f"POST /api/requests/{rid}/funding", data,
                        principal.username, run)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @post("/{request_id:str}/interests", sync_to_thread=True, status_code=201)
    def declare_interest(self, request_id: str, data: InterestIn, ctx: AppContext,
                         principal: Principal) -> Response[Any]:
        """A GAS says it may prepay or guarantee part of the request (non-binding);
        officers may record it for a GAS (``gas_id``)."""
        rid = path_uuid(request_id, "request")
        errors = Errors()
        interest_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        gas_id = check_uuid(data.gas_id, "gas_id", errors)
        if data.kind not in INTEREST_KINDS:
            errors.add("kind", f"one of {', '.join(INTEREST_KINDS)}")
        amount = money_minor(data.amount, "amount", errors)
        note = _text(data.note, "note", errors)
        if principal.is_staff and data.gas_id is None:
            errors.add("gas_id", "required when an officer records a GAS's interest")
        errors.raise_if_any()

        def action(conn: Connection) -> tuple[int, Any]:
            if principal.is_staff:
                gas = _party(conn, gas_id)
                if gas is None or gas.kind != "gas":
                    raise invalid("gas_id", "no GAS with this id")
            row = visible_request(conn, principal, rid)
            if principal.role == "producer":
                raise Forbidden("GAS declare interest in a request, not producers")
            declaring = gas_id if principal.is_staff else principal.party_id
            if principal.role == "gas" and gas_id not in (None, principal.party_id):
                refuse_acting_for(conn, principal, gas_id,
                                  "a GAS user declares interest for its own GAS")

            def create() -> tuple[int, Any]:
                if row.status not in OPEN_STATUSES:
                    raise Conflict("closed", f"the request is {row.status}; it takes no "
                                   "more interest")
                conn.execute(insert(request_interests).values(
                    id=interest_id, request_id=rid, gas_id=declaring, kind=data.kind,
                    amount_minor=amount, currency="EUR", note=note, created_at=now_utc(),
                    created_by=principal.username))
                return 201, interest_json(conn.execute(select(request_interests).where(
                    request_interests.c.id == interest_id)).one())

            return once(conn, data.id, f"POST /api/requests/{rid}/interests", data,
                        principal.username, create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/{request_id:str}/interests", sync_to_thread=True)
    def list_interests(self, request_id: str, ctx: AppContext, principal: Principal,
                       limit: int | None = None, cursor: str | None = None
                       ) -> dict[str, Any]:
        """Officers and the producer see every GAS's interest; a GAS user its own."""
        rid = path_uuid(request_id, "request")

        def read(conn: Connection) -> dict[str, Any]:
            visible_request(conn, principal, rid)
            query = select(request_interests).where(request_interests.c.request_id == rid)
            if principal.role == "gas":
                query = query.where(request_interests.c.gas_id == (principal.party_id or ""))
            rows, nxt = paginate(conn, query, request_interests.c.seq, limit, cursor)
            return page([interest_json(r) for r in rows], nxt)

        return ctx.read(read)


HANDLERS = [RequestController]
